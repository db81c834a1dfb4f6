# The two commands of the README: `make demo` and `make test`. Both install what they need.
.PHONY: test demo lint bench clean

test:
	scripts/test.sh

demo:
	scripts/demo.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench:
	scripts/bench.sh

clean:
	rm -rf .venv .demo .pytest_cache .mypy_cache .ruff_cache
