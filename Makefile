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
PRESET ?= reference
GEN_PRESET ?= default
# one pytest worker per core, each test file on one worker (its module fixtures, a server or a Spark
# session, are started once), files handed out longest first as tests/conftest.py orders them
# (docs/benchmarks.md has the times)
PYTEST_PARALLEL ?= -n auto --dist loadfile --no-loadscope-reorder

.PHONY: help install data train train-classifier evaluate score bench compare compare-korean compare-multiclass compare-seeds report train-generator \
	train-experts evaluate-generator compare-generator test test-fast lint docs clean

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

## train: both heads into MODEL (saved_models/default, replaced): the PRESET (reference) classifier, then the GEN_PRESET
##   generator with its sentiment agreement
train: train-classifier
	$(PY) -m classifier train-generator --preset $(GEN_PRESET) --model $(MODEL) --data $(DATA) --agreement --overwrite \
	  $(GEN_ARGS)

## train-classifier: the classifier alone, replacing MODEL's (about 2 minutes; keeps MODEL's generator when the
##   tokenizer is unchanged)
train-classifier: install data
	$(PY) -m classifier train --preset $(PRESET) --data $(DATA) -o $(MODEL) --overwrite

## evaluate: print [loss, acc] of MODEL on its test split
evaluate: install data
	$(PY) -m classifier evaluate --model $(MODEL) --data $(DATA)

## score: add recommend_proba, recommend, status to CSVs: make score IN="a.csv dir/" [OUT=FILE|DIR] [ARGS=...]
score: install
	@if [ -z "$(IN)" ]; then echo "make score: give IN=FILE (files, folders or -), optionally OUT=FILE" >&2; exit 2; fi
	$(PY) -m classifier score $(IN) $(if $(OUT),-o $(OUT)) --model $(MODEL) $(ARGS)

## bench: Keras vs our training, engine and `classifier score` on MODEL (bench.json), then bench-serve, bench-spark and bench-explain
bench: install data
	@# bytecode for the package, as pip writes for a regular install: timed processes then start as a user's do
	$(PY) -m compileall -q classifier
	$(PY) benchmarks/bench.py --model $(MODEL) --data $(DATA) --out bench.json
	$(MAKE) --no-print-directory bench-text
	$(PY) benchmarks/serving.py --model $(MODEL) --data $(DATA)
	$(PY) benchmarks/spark_scoring.py --model $(MODEL) --data $(DATA) --out bench-spark.json
	$(MAKE) bench-explain

$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

## bench-explain: explanations' deletion curves (AOPC) vs random words and LIME, explanations/s, score --explain (bench-explain.json; ~5 min)
.PHONY: bench-explain
bench-explain: install data $(VENV)/.bench-installed
	$(PY) benchmarks/explanations.py --model $(MODEL) --data $(DATA) --out bench-explain.json

## bench-text: raw text to probability stage by stage, reference, tuned and tfidf beside fastText (bench-text.json)
.PHONY: bench-text check-ids
BENCH_TFIDF ?= out/bench-tfidf
bench-text: install data
	@# the bench extra's packages (pyproject.toml), without reinstalling the package itself
	@$(PY) -c "import fasttext, tokenizers" 2>/dev/null || $(PY) -m pip install --quiet 'fasttext-numpy2-wheel>=0.9.2' 'tokenizers>=0.20'
	@test -f $(BENCH_TFIDF)/config.json || $(PY) -m classifier train --preset tfidf --data $(DATA) -o $(BENCH_TFIDF) --quiet
	$(PY) benchmarks/text_speed.py --model $(MODEL) --tuned saved_models/tuned --tfidf $(BENCH_TFIDF) --data $(DATA) \
	  --out bench-text.json

## check-ids: the fast text front end against the pure-Python one on every row of DATA_MIRROR's data sets
check-ids: install data
	@test -f $(BENCH_TFIDF)/config.json || $(PY) -m classifier train --preset tfidf --data $(DATA) -o $(BENCH_TFIDF) --quiet
	$(PY) benchmarks/check_text_ids.py --data-dir $(DATA_MIRROR) --model $(MODEL) --tuned saved_models/tuned \
	  --tfidf $(BENCH_TFIDF)

## bench-spark: 1,000,000 rows, `classifier score` vs --spark local[1] and local[2] (bench-spark.json; ~20 min, heavy)
.PHONY: bench-spark
bench-spark: install data
	$(PY) benchmarks/spark_scoring.py --model $(MODEL) --data $(DATA) --out bench-spark.json

## bench-serve: `classifier serve` vs a FastAPI + Keras server on MODEL, 32 clients on 127.0.0.1 (~2 min, heavy)
.PHONY: bench-serve
bench-serve: install data
	$(PY) benchmarks/serving.py --model $(MODEL) --data $(DATA)

## compare: train reference, tuned and tfidf on one split; table + out/compare/compare.json (~5 min)
compare: install data
	$(PY) -m classifier compare --data $(DATA) -o out/compare --overwrite $(ARGS)

## compare-korean: Korean movie reviews (DATA_MIRROR's korean_movie_reviews_*.csv): train on the train file, every
##   test-file row scored; reference, tuned, tfidf with the korean analyzer and the words one (out/compare-korean; ~35 min)
compare-korean: install
	$(PY) benchmarks/compare_korean.py --train $(DATA_MIRROR)/korean_movie_reviews_train.csv \
	  --test $(DATA_MIRROR)/korean_movie_reviews_test.csv --out out/compare-korean --overwrite $(ARGS)

## compare-multiclass: reference, tuned and tfidf on Department Name, Class Name and Rating (out/compare-multiclass; ~40 min;
##   --min-count 0 keeps Class Name's classes that only the test split holds, counted wrong)
compare-multiclass: install data
	$(PY) -m classifier compare --data $(DATA) -o out/compare-multiclass --label-columns "Department Name" "Class Name" \
	  Rating --min-count 0 --overwrite $(ARGS)

## compare-domains: leave one review domain out (DATA_MIRROR's english_review_domains.csv): tfidf and general
##   trained on the clothing training split + the other domains, VADER as baseline (out/compare-domains; ~25 min)
.PHONY: compare-domains
compare-domains: install data
	$(PY) -m classifier compare --data $(DATA) --domains $(DATA_MIRROR)/english_review_domains.csv --leave-out domain \
	  --presets general,tfidf -o out/compare-domains $(ARGS)

## compare-levers: which levers carry to a review domain never seen (lexicon, title, balance, word vectors), each chosen
##   on leave-one-source-out folds inside the training domains, never on the held-out one (out/domains-levers; ~10 min)
.PHONY: compare-levers
compare-levers: install data
	$(PY) benchmarks/domains_levers.py --clothing $(DATA) --domains $(DATA_MIRROR)/english_review_domains.csv \
	  --out out/domains-levers $(ARGS)

## compare-adapt: the target domain's unlabelled reviews as a lever (vocabulary, self-training), chosen on the same
##   validation folds (out/domains-adapt; ~20 min of CPU: --budget SECONDS stops it, run again to go on)
.PHONY: compare-adapt
compare-adapt: install data
	$(PY) benchmarks/domains_adapt.py --clothing $(DATA) --domains $(DATA_MIRROR)/english_review_domains.csv \
	  --out out/domains-adapt $(ARGS)

## compare-seeds: the tuned preset over 3 seeds, mean and spread (out/compare-seeds/compare.json; ~5 min)
compare-seeds: install data
	$(PY) -m classifier compare --data $(DATA) -o out/compare-seeds --presets tuned --init-seeds 42 43 44 --reuse \
	  --overwrite $(ARGS)

## report: evaluate MODEL and write metrics.json, plots and report.html into out/report
report: install data
	$(PY) -m classifier evaluate --model $(MODEL) --data $(DATA) --report out/report

## train-generator: train the GEN_PRESET (default) text generator into MODEL's bundle, replacing its generator
##   [ARGS=--max-rows N ...]
train-generator: install data
	$(PY) -m classifier train-generator --preset $(GEN_PRESET) --model $(MODEL) --data $(DATA) --agreement --overwrite \
	  $(ARGS)

## train-experts: add the steering experts to MODEL's generator, its files kept (about 8 CPU minutes)
train-experts: install data
	$(PY) -m classifier train-generator --experts-only --model $(MODEL) --data $(DATA) $(ARGS)

## evaluate-generator: print the test-split perplexity of MODEL's generator
evaluate-generator: install data
	$(PY) -m classifier evaluate-generator --model $(MODEL) --data $(DATA)

## compare-generator: perplexity table on one split and vocabulary: the reference preset (trained into a copy
##   of MODEL, ~40 min on 2 cores), MODEL's own generator (`make train` trains it) and a Kneser-Ney trigram
compare-generator: install data
	rm -rf out/generators && mkdir -p out/generators
	$(PY) -m classifier train-generator --preset reference --model $(MODEL) -o out/generators/reference \
	  --data $(DATA) --quiet $(ARGS)
	$(PY) -m classifier evaluate-generator --model out/generators/reference --data $(DATA) --compare $(MODEL) --ngram

## export: MODEL for other runtimes: make export FORMAT=savedmodel|onnx OUT=DIR|FILE.onnx [ARGS=--overwrite] (--to FORMAT)
.PHONY: export
export: install
	@if [ -z "$(OUT)" ] || [ -z "$(FORMAT)" ]; then echo "make export: give FORMAT=savedmodel OUT=DIR or FORMAT=onnx OUT=FILE.onnx" >&2; exit 2; fi
	$(PY) -m classifier export --model $(MODEL) --to $(FORMAT) -o $(OUT) $(ARGS)

## test: the whole test suite, as CI runs it (trains on small slices of the real data; about 4 minutes on 2 cores)
test: install data
	@# bytecode written once here, not compiled again in each of the ~100 processes the tests start
	$(PY) -m compileall -q classifier tests
	$(PY) -m pytest $(PYTEST_PARALLEL)

## test-fast: the tests not marked slow: no training, export or Spark; needs neither Java nor the review CSV
##   (outside CI, tests whose data or system dependency is missing skip and say how to get it)
test-fast: install
	$(PY) -m compileall -q classifier tests
	$(PY) -m pytest -m "not slow" $(PYTEST_PARALLEL)

## lint: ruff over the package and the tests
lint: install
	$(VENV)/bin/ruff check classifier tests benchmarks examples

## docs: build the manual (docs/, mkdocs.yml) into site/; --strict: a broken link or anchor fails
docs: install
	$(VENV)/bin/mkdocs build --strict --site-dir site

## clean: remove the venv and caches (keeps data and saved models)
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info site
