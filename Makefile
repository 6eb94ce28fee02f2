# Two commands do all set-up: `make demo` and `make test`.
# TORCH_SPEC pins the CPU wheel so nothing downloads a multi-GB CUDA build;
# with a GPU: `make test TORCH_SPEC=torch` after installing the CUDA build yourself.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
export QT_QPA_PLATFORM ?= offscreen

.PHONY: venv test demo app bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test,app]"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q

demo: venv
	$(VENV)/bin/mspt recognize resources/samples/lines/*.png

app: venv
	$(VENV)/bin/mspt-app

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
