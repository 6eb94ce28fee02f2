"""mspt installs like other software: `python -m build` makes an sdist and, from it, a wheel; the
wheel installed into a fresh venv outside the checkout gives the `mspt` and `mspt-app` commands
and carries its models, line finder and sample page as package data, so `mspt transcribe` reads
the packaged sample page from any folder.

The fresh venv reuses the libraries already installed here (torch, PySide6 ...) through a .pth
file instead of downloading them again; pip runs with --no-index, so nothing is downloaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from mspt_core import __version__
from mspt_core.metrics import cer

REPO = Path(__file__).resolve().parents[2]
# What the sdist is made of: the build must not need anything else from the checkout.
SOURCES = [
    "pyproject.toml",
    "setup.py",
    "README.md",
    "LICENSE",
    "packaging/THIRD_PARTY.md",
    "mspt_core",
    "mspt_app",
    "resources",
]

pytestmark = pytest.mark.packaging


def _run(command: list, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The sdist and the wheel `python -m build` makes from a copy of the sources."""
    pytest.importorskip("build", reason="needs the `build` package (pip install -e '.[test]')")
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend (setuptools) installed here, nothing downloaded.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, source], cwd=source)
    return dist


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; returns its folder."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    # No pip or setuptools of its own: those here (and the rest) are seen through the .pth file,
    # and pip runs from here against the new interpreter.
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=env_dir).stdout.strip()
    )
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "_mspt_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    (wheel,) = built.glob("mspt-*.whl")
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "--no-cache-dir", "--quiet", wheel],
        cwd=env_dir,
        env=_clean_env(),
    )
    return env_dir


def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MSPT_RESOURCES", "PYTHONHOME")}
    return {**env, "PYTHONNOUSERSITE": "1", **extra}


def test_build_makes_an_sdist_and_a_wheel_with_the_package_data(built):
    import tarfile
    import zipfile

    (sdist,) = built.glob(f"mspt-{__version__}.tar.gz")
    (wheel,) = built.glob(f"mspt-{__version__}-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in (
        "mspt_core/_resources/models/default/model.safetensors",
        "mspt_core/_resources/models/default/model.json",
        "mspt_core/_resources/layout/line-finder.safetensors",
        "mspt_core/_resources/layout/line-kinds.safetensors",
        "mspt_core/_resources/reading/fr-en-de.charlm.json",
        # the word list with the notices and licence text that must go with every copy of it
        "mspt_core/_resources/reading/fr-en-de.words.gz",
        "mspt_core/_resources/reading/fr-en-de.words.NOTICE",
        "mspt_core/_resources/reading/COPYING.GPL-3",
        "mspt_core/_resources/samples/sample-page.png",
        "mspt_core/_resources/samples/sample-page.xml",
        "mspt_core/cli/__init__.py",
        "mspt_app/main.py",
        f"mspt-{__version__}.dist-info/licenses/LICENSE",
        f"mspt-{__version__}.dist-info/licenses/packaging/THIRD_PARTY.md",
    ):
        assert data in names, data
    # Every module of the checkout is in the wheel (a new subpackage cannot be left out).
    modules = {p.relative_to(REPO).as_posix() for top in ("mspt_core", "mspt_app") for p in (REPO / top).rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "benchmarks/"))]
    with tarfile.open(sdist) as tar:
        assert f"mspt-{__version__}/resources/models/default/model.safetensors" in tar.getnames()


def test_the_installed_wheel_transcribes_its_packaged_sample_page(installed, tmp_path):
    python, mspt = installed / "bin" / "python", installed / "bin" / "mspt"
    work = tmp_path / "elsewhere"  # not the checkout: nothing can come from the source tree
    work.mkdir()
    env = _clean_env(MSPT_DATA_DIR=str(tmp_path / "userdata"), MSPT_CACHE_DIR=str(tmp_path / "cache"))

    where = _run(
        [
            python,
            "-c",
            "import json, mspt_core, mspt_core.resources as r; "
            "print(json.dumps([mspt_core.__file__, str(r.ROOT), str(r.sample_page())]))",
        ],
        cwd=work,
        env=env,
    )
    package, root, sample = (Path(p) for p in json.loads(where.stdout))
    assert package.is_relative_to(installed) and root.is_relative_to(installed), (package, root)
    assert root == package.parent / "_resources" and sample.is_file()

    assert _run([mspt, "--version"], cwd=work, env=env).stdout.strip() == f"mspt {__version__}"
    listing = _run([mspt, "models", "list"], cwd=work, env=env).stdout
    assert "default\tbundled" in listing, listing
    _run([installed / "bin" / "mspt-app", "--help"], cwd=work, env=env)

    done = _run(
        [mspt, "transcribe", sample, "--no-ground-truth", "--out", "out", "--to", "txt", "page", "--device", "cpu"],
        cwd=work,
        env=env,
    )
    assert done.stdout.split("\t")[0] == str(sample) and done.stdout.rstrip().endswith("mspt learned"), done.stdout
    text = (work / "out" / "sample-page.txt").read_text(encoding="utf-8")
    truth = sample.with_suffix(".txt").read_text(encoding="utf-8")
    assert cer([" ".join(truth.split())], [" ".join(text.split())]) <= 0.08
    assert (work / "out" / "sample-page.xml").is_file()
