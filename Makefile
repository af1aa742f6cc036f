# The targets CI runs. `make run` and `make test` set everything up on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: run console test check pytest bench lock clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/parlor run

console: $(STAMP)
	$(VENV)/bin/parlor console

test: check pytest

check: $(STAMP)
	$(PY) -m ruff check bot tests bench
	$(PY) -m ruff format --check bot tests bench
	$(PY) -m mypy --strict bot
	$(VENV)/bin/lint-imports

# Most end-to-end tests wait on platforms' rate limits, not the CPU, so workers beyond
# the cores still pay: on two idle cores six workers ran the slow half of the suite in
# 145 s where four took 182 s and eight 164 s. Work stealing keeps a worker that drew the
# long tests from finishing alone at the end (120 s with six).
PYTEST_WORKERS ?= 6

pytest: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) bench/stream_cpu.py
	$(PY) bench/prompt_build.py
	$(PY) bench/keep_cost.py
	$(PY) bench/attack_memory.py
	$(PY) bench/card_bomb.py
	$(PY) bench/turn_cpu.py --stages --profile "$${TMPDIR:-/tmp}/parlor-turn-profile.html"
	$(PY) bench/turn_latency.py

# The image installs exactly these versions, each checked against its hashes. uv rather
# than pip-tools: one resolution for every platform the image runs on (--universal) in
# seconds, for the image's Python, without installing anything. Run after changing
# pyproject's dependencies; tests/test_packaging.py fails while the two disagree.
lock: $(STAMP)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.12 \
		--generate-hashes --quiet -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
