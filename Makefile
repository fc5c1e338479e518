# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv if missing, installing the CPU build of torch first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN := torch==2.13.0
LLAMA_VERSION := 0.3.36
# Built llama-cpp-python wheels are kept here: compiling takes ~5-12 min on 2 cores.
# A portable build (no -march=native): a native one can use CPU features (AMX) that a
# virtual machine advertises but does not grant, and then crashes on the first request.
WHEELHOUSE ?= $(HOME)/.cache/hipporag-toolkit/wheels-portable
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: demo test lint test-fast bench llm-server-deps clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -e ".[test]"
	touch $@

$(VENV)/.llm-installed: $(VENV)/.installed
	mkdir -p $(WHEELHOUSE)
	ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-deps --no-cache-dir \
			llama-cpp-python==$(LLAMA_VERSION) -w $(WHEELHOUSE)
	$(PIP) install -q --force-reinstall --no-deps --find-links $(WHEELHOUSE) --no-index \
		"llama-cpp-python==$(LLAMA_VERSION)"
	$(PIP) install -q --find-links $(WHEELHOUSE) "llama-cpp-python[server]==$(LLAMA_VERSION)"
	touch $@

llm-server-deps: $(VENV)/.llm-installed

demo: $(VENV)/.installed
	$(PY) -m pipelines.demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: $(VENV)/.installed $(VENV)/.llm-installed lint
	$(PY) -m pytest -q --doctest-modules hipporag indexers retrievers pipelines notebooks/nbsetup.py tests

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not llm and not ray and not notebook"

clean:
	rm -rf .demo-index .pytest_cache .ruff_cache
