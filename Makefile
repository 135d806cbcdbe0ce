# casekit: two commands on a fresh machine with only python3 (3.11), make and the package registries.
#   make demo   run the whole kit on the synthetic district
#   make test   run the tests (browser tests run when /usr/bin/chromium exists; `.ci/run` installs it)
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
UV      := $(VENV)/bin/uv
STAMP   := $(VENV)/.casekit-installed
PYTEST_ARGS ?=
# containers and classroom servers run as root: Jupyter refuses that without --allow-root
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# no news pop-up or update check for a class (announcements plugin off in jupyter_config/labconfig)
LAB_QUIET := --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

.PHONY: help venv demo test test-fast test-all test-lowest lab voila bench lint clean

help:
	@echo "make demo   generate the synthetic district and run the whole kit (reports/ and data/)"
	@echo "make test   run the test suite (slow statistical checks included; see test-fast)"
	@echo "make lab    open JupyterLab on notebooks/"
	@echo "make voila  serve the what-if and network explorers as Voila apps"
	@echo "make bench  run the benchmarks in benchmarks/"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --python $(PY) --quiet --compile-bytecode -e ".[notebooks,test,scale]"
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/casekit demo --out reports

test: venv
	@test -x /usr/bin/chromium || echo "note: /usr/bin/chromium not found: the browser tests will be SKIPPED (apt-get install chromium to run them; .ci/run does)"
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

# The declared lower bounds, honestly: a separate venv with every direct dependency at the lowest
# version pyproject.toml allows (uv's lowest-direct resolution, pinned to a file and synced, so a
# raised bound is picked up), then the fast tests (not slow, not browser). Result: docs/dependencies.md.
LOWEST_VENV ?= .venv-lowest
LOWEST_PY   := $(LOWEST_VENV)/bin/python
test-lowest:
	@test -x $(LOWEST_PY) || $(PYTHON) -m venv $(LOWEST_VENV)
	@test -x $(LOWEST_VENV)/bin/uv || $(LOWEST_PY) -m pip install --quiet --disable-pip-version-check uv
	$(LOWEST_VENV)/bin/uv pip compile --quiet --python $(LOWEST_PY) --resolution lowest-direct \
		--extra notebooks --extra test --extra scale pyproject.toml -o $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/uv pip sync --quiet --compile-bytecode --python $(LOWEST_PY) $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/uv pip install --quiet --python $(LOWEST_PY) --no-deps -e .
	@grep -E '^(numpy|pandas|pyarrow|openpyxl|networkx|lifelines|scipy|matplotlib|ipywidgets)==' $(LOWEST_VENV)/lowest.txt | tr '\n' ' '; echo
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(LOWEST_PY) -m pytest -p no:cacheprovider -m "not slow and not browser" $(PYTEST_ARGS)

lab: venv
	JUPYTER_CONFIG_DIR=jupyter_config $(VENV)/bin/jupyter lab notebooks/ $(ROOT_FLAG) $(LAB_QUIET)

# each open app page holds one kernel (measured: what-if 237 MB RSS / 154 MB unique, network
# 209 / 144 MB); closing the tab frees it, and jupyter_config/voila.py culls a kernel whose page
# went away without closing after 5 idle minutes
voila: venv
	JUPYTER_CONFIG_DIR=jupyter_config $(VENV)/bin/voila notebooks/apps/ --Voila.ip=127.0.0.1 --no-browser

bench: venv
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: venv
	$(UV) pip install --python $(PY) --quiet -e ".[dev]"
	$(VENV)/bin/ruff check casekit tests

clean:
	rm -rf $(VENV) $(LOWEST_VENV) reports .pytest_cache
