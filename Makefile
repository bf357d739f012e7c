# One command to set up and run, one to set up and test. See README.md.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup run test check lint bench clean

# torch first and pinned: it is the CPU build that lies on this machine's disk; letting pip pick torch
# through sentence-transformers would download a CUDA build of several GB.
$(STAMP): pyproject.toml
	@# The tests write PDFs with the DejaVu fonts (Debian's fonts-dejavu-core).
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || \
		(apt-get update -qq && apt-get install -y -qq fonts-dejavu-core >/dev/null)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Ingest the corpus (a no-op when nothing changed), then the main job.
run: setup
	$(BIN)/vve ingest --quiet
	$(BIN)/vve main

test: setup
	$(BIN)/python -m pytest
	$(BIN)/ruff check index ingest bot tests bench scripts
	$(BIN)/mypy

lint: setup
	$(BIN)/ruff check index ingest bot tests bench scripts
	$(BIN)/mypy

# Benchmarks print ratios against a baseline measured in the same run; not part of `make test`.
bench: setup
	$(BIN)/python -m bench.models
	$(BIN)/python -m bench.ingest_throughput
	$(BIN)/python -m bench.search_latency
	$(BIN)/python -m bench.search_latency --crossover
	$(BIN)/python -m bench.cli_latency
	$(BIN)/python -m bench.piaf_retrieval
	$(BIN)/python -m bench.bot_latency
	$(BIN)/python -m bench.http_load

clean:
	rm -rf $(VENV) var
