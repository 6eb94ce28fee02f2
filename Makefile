# Two commands do all set-up: `make demo` and `make test`.
# TORCH_SPEC pins the CPU wheel so nothing downloads a multi-GB CUDA build;
# with a GPU: `make test TORCH_SPEC=torch` after installing the CUDA build yourself.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
export QT_QPA_PLATFORM ?= offscreen

.PHONY: venv test lint demo app dist bundle bundle-test samples fonts clean

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test,app]"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q

# Lint, formatting and types; CI runs it before the tests (the versions are pinned in pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy mspt_core mspt_app

# The main job on the bundled sample page: find its lines, read them with the default model.
demo: venv
	$(VENV)/bin/mspt transcribe resources/samples/sample-page.png --no-ground-truth --out out/demo --to txt page
	cat out/demo/sample-page.txt
	@echo "--- line CER of the default model on the sample page's true lines:"
	$(VENV)/bin/mspt eval resources/samples/sample-page.xml --worst 3

# A real window (the exported offscreen platform is for tests), on the bundled sample project.
app: venv
	env -u QT_QPA_PLATFORM $(VENV)/bin/mspt-app --sample

# A wheel and an sdist in dist/: `pip install dist/mspt-*.whl` installs mspt anywhere (README).
# build/ goes first: setuptools would put a module deleted since the last build into the wheel.
dist: venv
	rm -rf build dist
	$(PY) -m build --no-isolation --outdir dist .

# The desktop bundle: dist/mspt/, one folder with `mspt` and `mspt-app` and the default models, that
# runs without Python (PyInstaller; notes for Windows and macOS in packaging/mspt.spec). Its .desktop
# file, icons and AppStream metadata go to dist/mspt/share/ (copy them to ~/.local/share/ to install).
bundle: venv
	$(PY) -m pip install --quiet "pyinstaller>=6.10"
	rm -rf dist/mspt build/pyinstaller
	$(VENV)/bin/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/mspt.spec
	mkdir -p dist/mspt/share/applications dist/mspt/share/metainfo
	cp packaging/linux/io.github.mspt.desktop dist/mspt/share/applications/
	cp packaging/linux/io.github.mspt.metainfo.xml dist/mspt/share/metainfo/
	cp -r packaging/linux/icons dist/mspt/share/icons

# The bundle's smoke test: the app starts offscreen, opens the sample, recognizes it and exits;
# the bundled CLI transcribes the sample page. Prints the bundle's size and the app's start-up time.
bundle-test:
	$(PY) packaging/bundle_test.py dist/mspt

# Re-render the bundled sample page and lines (needs the fonts: make fonts).
samples: venv
	$(PY) resources/samples/make_samples.py

# Debian fonts and text corpora for the synthetic line generator (docs/synth.md).
fonts:
	apt-get install -y --no-install-recommends $$(cat packaging/synth-debs.txt)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
