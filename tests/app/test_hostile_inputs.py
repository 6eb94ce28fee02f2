"""Hostile files through the app's ways in: File → Add pages, File → Open project and the model
manager's Import, one table row per kind (tests/core/cli/test_hostile_inputs.py is the table for
the command line).

Each row must end in one dialog that says what went wrong (an error, or the list of files not
added), with no exception escaping; the open project, the folder the file came from and the
models stay as they were, byte for byte; no temporary file is left; nothing hangs (a row that
blocks ends the run after 60 seconds with every thread's stack)."""

from __future__ import annotations

import faulthandler
import json
import os
import pickle
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from mspt_app.settings import AppSettings
from mspt_app.widgets.model_manager import ModelManagerDialog
from mspt_core.project import Project
from tests.core.cli.test_hostile_inputs import NON_UTF8, SAMPLES, _digest, _page_xml_with, _png_header

PAGE = SAMPLES / "sample-page.png"
PAGE_BYTES = PAGE.read_bytes()
Builder = Callable[[Path, Path], Path]  # (where, the tiny model file) -> what to hand the app


# --- builders of hostile files ----------------------------------------------------------------


def _file(data: bytes | Callable[[bytes], bytes]) -> Builder:
    """A file holding ``data`` (or what ``data`` makes of the model file's bytes)."""

    def make(path: Path, model: Path) -> Path:
        path.write_bytes(data(model.read_bytes()) if callable(data) else data)
        return path

    return make


def _fifo(path: Path, model: Path) -> Path:
    os.mkfifo(path)
    return path


def _folder(path: Path, model: Path) -> Path:
    path.mkdir()
    return path


def _no_pages(path: Path, model: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text("no images here", encoding="utf-8")
    return path


def _copy_of(source: Path | None) -> Builder:
    """A copy of ``source`` (None: of the model file)."""

    def make(path: Path, model: Path) -> Path:
        shutil.copy(source or model, path)
        return path

    return make


def _loop(path: Path, model: Path) -> Path:
    path.symlink_to(path.name)
    return path


def _huge_file(path: Path, size: int = 3 << 30) -> None:
    with open(path, "wb") as f:  # sparse: costs no disk, but reading it whole would cost 3 GB
        f.truncate(size)


def _sparse(path: Path, model: Path) -> Path:
    _huge_file(path)
    return path


def _zip_of_pickles(path: Path, model: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:  # what torch.save writes
        archive.writestr("archive/data.pkl", pickle.dumps({"weight": 0}))
    return path


def _huge_header(model: bytes) -> bytes:
    """The model with 120 MB of JSON added to its header (safetensors allows 100 MB)."""
    length = struct.unpack("<Q", model[:8])[0]
    header = json.loads(model[8 : 8 + length])
    header["__metadata__"]["padding"] = json.dumps("x" * (120 << 20))
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + model[8 + length :]


def _folder_model(path: Path, model: Path) -> Path:
    path.mkdir()
    shutil.copy(model, path / "model.safetensors")
    _huge_file(path / "model.json")
    return path


def _project(change: Callable[[Path], object]) -> Builder:
    """A one-page project, closed cleanly, then damaged by ``change(folder)``."""

    def make(path: Path, model: Path) -> Path:
        project = Project.create(path)
        project.add_files([PAGE])
        project.close()
        change(path)
        return path

    return make


def _manifest(folder: Path, text: str | bytes) -> None:
    (folder / "project.json").write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def _edit_manifest(folder: Path, edit: Callable[[dict], object]) -> None:
    data = json.loads((folder / "project.json").read_text(encoding="utf-8"))
    edit(data)
    _manifest(folder, json.dumps(data))


def _page_file(folder: Path) -> Path:
    return next((folder / "page").glob("*.xml"))


def _image_file(folder: Path) -> Path:
    return next(folder.glob("0001-*.png"))


def _replace(path: Path, make: Callable[[Path], object]) -> None:
    path.unlink()
    make(path)


# --- the table ----------------------------------------------------------------------------------

# Given to File → Add pages: (file name, builder).
ADD: dict[str, tuple[str, Builder]] = {
    "fifo": ("pipe.png", _fifo),
    "folder named like an image": ("a-folder.png", _folder),
    "folder without images": ("no-pages", _no_pages),
    "empty file": ("empty.png", _file(b"")),
    "truncated png": ("truncated.png", _file(PAGE_BYTES[: len(PAGE_BYTES) // 2])),
    "decompression bomb (30000 x 30000)": ("bomb.png", _file(_png_header(30_000, 30_000))),
    "decompression bomb (2e9 x 1)": ("bomb-width.png", _file(_png_header(2_000_000_000, 1))),
    "text named .jpg": ("not-an-image.jpg", _file(b"just some text, not a JPEG")),
    "non-utf-8 name": (NON_UTF8, _copy_of(PAGE)),
    "link to itself": ("loop.png", _loop),
    "page xml naming an image outside its folder": (
        "page.xml",
        _file(_page_xml_with('imageFilename="sample-page.png"', 'imageFilename="../../secret.png"').encode()),
    ),
}
# Given to File → Open project, refused.
OPEN: dict[str, Builder] = {
    "not a project": _no_pages,
    "truncated project.json": _project(lambda p: _manifest(p, (p / "project.json").read_bytes()[:40])),
    "empty project.json": _project(lambda p: _manifest(p, b"")),
    "non-utf-8 project.json": _project(lambda p: _manifest(p, b'{"format": "mspt-project", "name": "caf\xe9"}')),
    "project.json of other types": _project(lambda p: _manifest(p, '{"format": "mspt-project", "pages": "many"}')),
    "project.json with a page of other types": _project(
        lambda p: _edit_manifest(p, lambda d: d["pages"][0].update(lines="many", xml=7))
    ),
    "project.json nested 200,000 deep": _project(lambda p: _manifest(p, "[" * 200_000 + "]" * 200_000)),
    "project.json of 3 GB": _project(lambda p: _replace(p / "project.json", _huge_file)),
    "project.json as a fifo": _project(lambda p: _replace(p / "project.json", os.mkfifo)),
    "project.json as a folder": _project(lambda p: _replace(p / "project.json", Path.mkdir)),
    "project.json from a newer mspt": _project(lambda p: _edit_manifest(p, lambda d: d.update(version=99))),
    "page file outside the project": _project(
        lambda p: _edit_manifest(p, lambda d: d["pages"][0].update(xml="../../elsewhere.xml"))
    ),
    "image outside the project": _project(
        lambda p: _edit_manifest(p, lambda d: d["pages"][0].update(image="/etc/hostname"))
    ),
}
# Given to File → Open project: they open, with a page that cannot be shown; the dialog says so,
# and closing the project again leaves its folder as it was.
OPEN_DAMAGED: dict[str, Builder] = {
    "damaged page file": _project(lambda p: _page_file(p).write_text("<PcGts", encoding="utf-8")),
    "page file as a fifo": _project(lambda p: _replace(_page_file(p), os.mkfifo)),
    "missing page image": _project(lambda p: _image_file(p).unlink()),
    "page image as a fifo": _project(lambda p: _replace(_image_file(p), os.mkfifo)),
    "truncated page image": _project(lambda p: _image_file(p).write_bytes(PAGE_BYTES[: len(PAGE_BYTES) // 3])),
    "page image a decompression bomb": _project(lambda p: _image_file(p).write_bytes(_png_header(30_000, 30_000))),
}
# Given to the model manager's Import: (file name, builder).
IMPORT: dict[str, tuple[str, Builder]] = {
    "fifo": ("pipe.safetensors", _fifo),
    "folder without a model": ("a-folder", _folder),
    "empty file": ("empty.safetensors", _file(b"")),
    "a pickle posing as a model": ("pickle.safetensors", _file(pickle.dumps({"weight": [0.0] * 10}, protocol=2))),
    "a zip of pickles (torch.save) posing as a model": ("zip.safetensors", _zip_of_pickles),
    "header claiming 1 TB": ("claims.safetensors", _file(struct.pack("<Q", 1 << 40) + b'{"__metadata__": {"')),
    "sparse 3 GB of zeros": ("sparse.safetensors", _sparse),
    "truncated model": ("truncated.safetensors", _file(lambda model: model[: len(model) // 2])),
    "a 120 MB JSON header": ("huge-header.safetensors", _file(_huge_header)),
    "model folder with a 3 GB model.json": ("folder-model", _folder_model),
    "non-utf-8 name": (os.fsdecode(b"mod\xe8le.safetensors"), _copy_of(None)),
}

ROWS = (
    [("add", kind) for kind in ADD]
    + [("open", kind) for kind in OPEN]
    + [("open a damaged page", kind) for kind in OPEN_DAMAGED]
    + [("import", kind) for kind in IMPORT]
)
KINDS = len(ROWS)  # the README's reliability section states it


def _make(way: str, kind: str, folder: Path, model: Path) -> Path:
    folder.mkdir()
    if way == "add":
        name, build = ADD[kind]
    elif way == "import":
        name, build = IMPORT[kind]
    else:
        name, build = kind.replace(" ", "-").replace(",", ""), {**OPEN, **OPEN_DAMAGED}[kind]
    return build(folder / name, model)


# --- checks -------------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, str]:
    """Every file, folder, link and FIFO under ``root`` with a digest of its content (sparse
    files of gigabytes by their size), but for the app's settings and log."""
    tree = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if name == "settings.ini" or name.startswith("logs"):
            continue
        if path.is_fifo():
            tree[name] = "fifo"
        elif path.is_file() and not path.is_symlink() and path.stat().st_size > 1 << 30:
            tree[name] = f"{path.stat().st_size} bytes"
        else:
            tree[name] = _digest(path)
    return tree


def _temporaries(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if ".mspt" in path.name and path.name.endswith(".tmp")]


def _dialogs(widget) -> list[QMessageBox]:
    return [w for w in widget.findChildren(QMessageBox) if w.objectName() in ("errorDialog", "rejectedDialog")]


@pytest.fixture(scope="module")
def model_file(tiny_model, tmp_path_factory) -> Path:
    """The tiny model as one .safetensors file, as models are shared."""
    from mspt_core.models import export_model

    return export_model(str(tiny_model), tmp_path_factory.mktemp("shared") / "tiny.safetensors")


@pytest.fixture
def hang_guard(tmp_path):
    """A row that blocks (a FIFO opened for reading, in Python or in Qt) ends the run with every
    thread's stack (in the test's hung.txt) instead of hanging it."""
    with open(tmp_path / "hung.txt", "w") as stacks:  # pytest holds stderr; look here after a hang
        faulthandler.dump_traceback_later(60, exit=True, file=stacks)
        yield
        faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("way, kind", ROWS, ids=[f"{way}: {kind}" for way, kind in ROWS])
def test_a_hostile_file_is_a_dialog_and_changes_nothing(way, kind, qtbot, window, model_file, tmp_path, hang_guard):
    mine = window.new_project(tmp_path / "mine", "Mine")
    window.add_pages([PAGE])
    window.save_now()
    hostile = _make(way, kind, tmp_path / "in", model_file)
    (tmp_path / "data").mkdir(exist_ok=True)  # the models
    before = _tree(tmp_path)
    widget = window

    if way == "add":
        assert window.add_pages([hostile]) == []
        assert window.project is mine and window.page_list.count() == 1
    elif way == "open":
        assert window.open_project(hostile) is None
        assert window.project is mine and window.page_list.count() == 1
    elif way == "open a damaged page":
        assert window.open_project(hostile) is not None and window.page_list.count() == 1
    else:
        widget = manager = ModelManagerDialog(AppSettings())
        qtbot.addWidget(manager)
        manager.ask_import_path = lambda: hostile
        manager.ask_name = lambda title, default: "imported"
        rows = manager.table.rowCount()
        manager.import_model()
        assert manager.table.rowCount() == rows

    shown = _dialogs(widget)
    assert len(shown) == 1, [box.text() for box in shown]
    assert "Traceback" not in shown[0].text() + shown[0].informativeText()
    if way == "open a damaged page":  # the person closes it again; "mine" was closed when it opened
        assert window.close_project()
        before = {name: digest for name, digest in before.items() if not name.startswith("mine")}
        after = {name: digest for name, digest in _tree(tmp_path).items() if not name.startswith("mine")}
    else:
        window.save_now()
        after = _tree(tmp_path)
    assert after == before  # the open project, the inputs and the models as they were
    assert not _temporaries(tmp_path)


def test_a_scan_whose_page_file_names_an_image_outside_is_added_with_its_own_pixels(qtbot, window, tmp_path):
    """A PAGE file beside a scan gives the page its lines; the image it names (here outside its
    folder) is never read: the project keeps a copy of the scan the person chose."""
    window.new_project(tmp_path / "mine")
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(PAGE, folder / "scan.png")
    (folder / "scan.xml").write_text(_page_xml_with("sample-page.png", "/etc/hostname"), encoding="utf-8")
    assert window.add_pages([folder / "scan.png"]) == [0]
    assert not _dialogs(window)
    assert window.project.image_path(0).read_bytes() == PAGE_BYTES
    assert window.project.page(0).image_path == window.project.image_path(0)
    assert len(list(window.project.page(0).lines())) > 0
