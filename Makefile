# Leximind: `make demo` answers a question about a repository; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
VLLM_VENV ?= .venv-vllm
REPO ?= .
KB ?= demo
QUESTION ?= How do I run the tests?
DATA ?= .data/demo

BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/leximind: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VLLM_VENV)/.ready: ops/vllm/make_venv.sh
	bash ops/vllm/make_venv.sh $(VLLM_VENV)
	touch $@

demo: $(BIN)/leximind
	LEXIMIND_DATA_DIR=$(DATA) $(BIN)/leximind index $(REPO) --kb $(KB)
	LEXIMIND_DATA_DIR=$(DATA) $(BIN)/leximind ask "$(QUESTION)" --kb $(KB)

test: $(BIN)/leximind $(VLLM_VENV)/.ready
	LEXIMIND_TEST_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python HF_HUB_OFFLINE=1 \
		$(BIN)/python -m pytest -ra

lint: $(BIN)/leximind
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(BIN)/leximind
	$(BIN)/python -m benchmarks.retrieval
	$(BIN)/python -m benchmarks.own_repo
	$(BIN)/python -m benchmarks.indexing
	$(BIN)/python -m benchmarks.latency

clean:
	rm -rf $(VENV) $(VLLM_VENV) .data .bench
