# part3d: `make run` sets everything up and runs the main job; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
MODELS := $(SHARED)/data/models
OUT ?= out

.PHONY: run split-demo test setup lint format bench clean constraints

# Debian packages the preview needs for headless OpenGL (EGL), and qemu-user, whose emulated
# CPU without AVX lets a test run Embree's SSE kernels; installed when missing.
APT_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri qemu-user

# constraints.txt pins every package the venv holds (pip freeze): the labels, and the
# boundary model that tests/test_segment.py rebuilds byte for byte, depend on numpy, scipy and
# LightGBM's exact arithmetic. Refresh it on purpose: `make constraints`.
$(VENV)/.installed: pyproject.toml constraints.txt
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq $$missing; fi; \
	fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' -c constraints.txt
	@touch $@

# Tencent's Node.js SDK, a client in the service tests.
NODE_SDK := tests/node/node_modules/tencentcloud-sdk-nodejs-intl-en/package.json

$(NODE_SDK): tests/node/package.json tests/node/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq nodejs npm; fi; }
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed $(NODE_SDK)

run: setup
	$(PY) -m part3d.service.demo $(MODELS)/mar_rifle.fbx --port 18931

split-demo: setup
	@mkdir -p $(OUT)
	$(VENV)/bin/part3d split $(MODELS)/mar_rifle.fbx -o $(OUT)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint $(NODE_SDK)
	$(VENV)/bin/pytest -n 2 -q

bench: setup
	$(PY) bench/formats.py
	$(PY) bench/psb.py
	$(PY) bench/split.py

clean:
	rm -rf $(OUT) bench/out .pytest_cache

# Pin what the venv holds now (after upgrading a dependency on purpose; then rebuild the
# boundary model: .venv/bin/python bench/train_boundary.py --no-cv --save).
constraints: $(VENV)/.installed
	$(PY) -m pip freeze --exclude-editable | grep -v '^part3d' > constraints.txt
