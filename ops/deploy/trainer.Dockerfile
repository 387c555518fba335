# syntax=docker/dockerfile:1
# The scheduler's image on a GPU host (the `gpu` profile of compose.yaml): the Leximind image
# plus the LlamaFactory trainer venv in /opt/trainer, so `leximind scheduler` can run
# `llamafactory-cli train` for the weekly retraining inside the stack.
#
# Compose builds it after the app image (`additional_contexts: leximind-app: service:api-1`).
# By hand, from the repository root:
#
#   docker build -f ops/deploy/Dockerfile -t leximind:local .
#   docker build -f ops/deploy/trainer.Dockerfile -t leximind-trainer:local \
#       --build-context leximind-app=docker-image://leximind:local .
#
# The trainer venv is built by ops/training/make_venv.sh, as for the tests, but with PyPI's
# CUDA build of torch 2.13.0 (the script keeps torchvision and torchaudio for a CUDA torch).
# LlamaFactory pins transformers and peft versions the app cannot share, so it keeps its own
# venv; the app calls it as a subprocess (LEXIMIND_TRAINING__CLI). Both stages start from the
# same Python image (keep PYTHON_IMAGE as in the Dockerfile), so the venv's interpreter
# path exists in the final image.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS trainer
ARG TORCH_SPEC=torch==2.13.0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY ops/training/make_venv.sh /tmp/make_venv.sh
RUN TORCH_SPEC="${TORCH_SPEC}" PYTHON=python3 bash /tmp/make_venv.sh /opt/trainer \
    && rm /tmp/make_venv.sh

FROM leximind-app
USER root
COPY --from=trainer /opt/trainer /opt/trainer
# The base model is downloaded into this folder (a named volume in compose) on the first run.
RUN mkdir -p /var/cache/leximind-hf && chown leximind:leximind /var/cache/leximind-hf
ENV LEXIMIND_TRAINING__CLI=/opt/trainer/bin/llamafactory-cli \
    HF_HOME=/var/cache/leximind-hf
USER leximind
