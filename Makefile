# Shortcuts; each target is the README's command, so `make` is optional.
.PHONY: run test bench

run:
	python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/newsclean run

test:
	bash .ci/run

bench:
	.venv/bin/python bench/bench_run.py --mb 50
