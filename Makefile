# One command installs everything and runs the tests; one installs everything and runs the demo.
PY ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.vlaforge-installed
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl
export OMP_NUM_THREADS ?= 2

.PHONY: setup test demo clean-venv

setup: $(STAMP)

# Re-installs only when pyproject.toml, the Makefile or TORCH_SPEC change.
$(STAMP): pyproject.toml Makefile
	@bash scripts/install_system_deps.sh
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install -q --upgrade pip >/dev/null
	@$(VENV)/bin/python -m pip install -q "$(TORCH_SPEC)"
	@$(VENV)/bin/python -m pip install -q -e ".[test]"
	@echo "$(TORCH_SPEC)" > $(STAMP)

test: setup
	$(VENV)/bin/python -m pytest tests

demo: setup
	$(VENV)/bin/vlaforge demo

clean-venv:
	rm -rf $(VENV)
