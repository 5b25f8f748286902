# The two front-door commands. Both bootstrap what they need into .venv; nothing by hand.
#   make examples   the example bots under chaos, ending with the chaos report
#   make test       the test suite on Python 3.10-3.13 (tox), lint, types and coverage

PYTHON ?= python3.11
VENV := .venv
# pyenv keeps 3.10-3.13 installed but off PATH until selected; tox needs all of them.
export PYENV_VERSION ?= 3.11.7:3.10.13:3.12.1:3.13.0

.PHONY: examples test venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test]" tox
	touch $@

venv: $(VENV)/.installed

# The naive incident bot is meant to fail: that is the demo. pytest's exit code 1 (some tests
# failed) is success here; 2 (interrupted), 3 (internal error), 4 (usage error) and 5 (no tests)
# still fail the target.
examples: venv
	$(VENV)/bin/python -m pytest examples -p no:cacheprovider --chaos-report=chaos-report.json \
		--chaos-timeline=chaos-timeline.svg || [ $$? -eq 1 ]

test: venv
	$(VENV)/bin/python -m tox run

clean:
	rm -rf $(VENV) .tox chaos-report.json chaos-timeline.svg site

# The performance benchmarks (docs/performance.md): plugin vs bare mocking libraries, the virtual
# clock, the idle cost and memory. Exits non-zero naming any target missed. BENCH_ARGS=--quick
# for a first look.
.PHONY: bench
bench: venv
	$(VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)
