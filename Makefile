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

.PHONY: run test install check-java default-model compare bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first, pinned to the CPU build on local disk; otherwise pip pulls a CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP)

check-java:
	@command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -q '"17\|"2[0-9]' || { \
	  echo "Java 17 is needed for the Spark tests: apt-get install openjdk-17-jre-headless" >&2; exit 1; }

run: install
	$(PY) -m stanceframe data build
	$(PY) -m stanceframe data stats

test: install
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) out
