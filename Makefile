# pixseek developer entry points. `make run` and `make test` work on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
VOCAB := .cache/clip-vocab/bpe_simple_vocab_16e6.txt.gz
PHOTOS ?= $(firstword $(wildcard ../shared/data/photos) $(HOME)/Pictures)
QUERY ?= a dog on a beach
export PIXSEEK_CLIP_VOCAB := $(abspath $(VOCAB))

.PHONY: install system-deps run test test-fast bench model clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test,export,heif,cluster]'
	touch $(STAMP)

# OpenAI's CLIP BPE vocabulary, taken from the open-clip-torch wheel (used to build tokenizers
# for random-weight test and benchmark models; real models bring their own tokenizer).
$(VOCAB): | $(STAMP)
	mkdir -p $(dir $(VOCAB)) .cache/wheels
	$(PIP) download -q --no-deps open-clip-torch==3.3.0 -d .cache/wheels
	$(PY) -c "import glob,zipfile,sys; z=zipfile.ZipFile(glob.glob('.cache/wheels/open_clip_torch-3.3.0-*.whl')[0]); open(sys.argv[1],'wb').write(z.read('open_clip/bpe_simple_vocab_16e6.txt.gz'))" $@.tmp
	mv $@.tmp $@

install: $(STAMP) $(VOCAB)

system-deps:
	bash scripts/install-system-deps.sh

# Install, make sure a model is there, index PHOTOS and run one search.
run: install
	$(PY) scripts/ensure_model.py
	$(VENV)/bin/pixseek index "$(PHOTOS)"
	$(VENV)/bin/pixseek search "$(QUERY)" -k 5

test: install system-deps
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -ra -m "not slow and not browser and not gui" $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .cache build test-output src/*.egg-info
