# classifier: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= data/womens_clothing_ecommerce_reviews.csv
DATA_MIRROR ?= ../shared/data
DATA_SHA256 := bd93cc515747ad1f87b8bc863c9e40da758509e6db6506a96d06976e61e36ee0
MODEL ?= saved_models/default
PRESET ?= seed

.PHONY: help install data train evaluate test lint clean

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -e 's/^## /  /' -e 's/: /\t/' | expand -t 22

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

## install: make .venv and install the package with its dev extra
install: $(VENV)/.installed

## data: copy the review CSV from DATA_MIRROR (default ../shared/data) and check its sha256
data: $(DATA)

$(DATA):
	@src="$(DATA_MIRROR)/$(notdir $(DATA))"; \
	if [ ! -f "$$src" ]; then \
	  echo "make data: $$src not found. Download the Kaggle data set nicapotato/womens-ecommerce-clothing-reviews," >&2; \
	  echo "  save its CSV as $(DATA) (sha256 $(DATA_SHA256)), or set DATA_MIRROR=DIR." >&2; \
	  exit 1; \
	fi; \
	mkdir -p $(dir $(DATA)); cp "$$src" "$@.tmp"; \
	if ! echo "$(DATA_SHA256)  $@.tmp" | sha256sum --check --status; then \
	  rm -f "$@.tmp"; echo "make data: $$src does not have sha256 $(DATA_SHA256); get a clean copy" >&2; exit 1; \
	fi; \
	mv "$@.tmp" "$@"; echo "data: $@ (sha256 ok)"

## train: train the seed preset on the full data into MODEL (saved_models/default)
train: install data
	$(PY) -m classifier train --preset $(PRESET) --data $(DATA) --out $(MODEL)

## evaluate: print [loss, acc] of MODEL on its test split
evaluate: install data
	$(PY) -m classifier evaluate --model $(MODEL) --data $(DATA)

## test: run the test suite (trains on small slices of the real data)
test: install data
	$(PY) -m pytest

## lint: ruff over the package and the tests
lint: install
	$(VENV)/bin/ruff check classifier tests

## clean: remove the venv and caches (keeps data and saved models)
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
