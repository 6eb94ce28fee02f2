"""Hostile inputs through every command-line entry point, one table row per kind.

Each row must give exit code 2 and exactly one `mspt: error:` line, at the start of a line (not
glued to a progress bar), that names the input and the reason; no traceback; no change to any
file (earlier outputs included); no temporary file left. A row that hangs fails after 20 seconds
instead of blocking the suite. Every row is cheap: errors come before any training, or a
one-step tiny run at most."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import struct
import zlib
from pathlib import Path

import pytest

from mspt_core.cli import main
from mspt_core.formats.xmlsafe import MAX_BYTES

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"
LINES = SAMPLES / "lines"
LINE = LINES / "001.png"
NON_UTF8 = os.fsdecode(b"caf\xe9.png")  # a Latin-1 file name, as old archives and zip files have them


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` and holds no pixels (a decompression bomb's head)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


def _pdf_without_pages(path: Path) -> None:
    import pypdfium2

    pypdfium2.PdfDocument.new().save(str(path))  # a valid PDF whose page tree is empty


def _page_xml_with(old: str, new: str) -> str:
    return (SAMPLES / "sample-page.xml").read_text(encoding="utf-8").replace(old, new)


def _make_inputs(folder: Path) -> None:
    folder.mkdir()
    for name in ("sample-page.png", "sample-page.xml"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "a-folder.png").mkdir()
    for name in ("pipe.png", "pipe.safetensors", "pipe.xml"):
        os.mkfifo(folder / name)
    shutil.copy(SAMPLES / "sample-page.png", folder / NON_UTF8)
    latin1 = folder / "latin1-lines"
    latin1.mkdir()
    shutil.copy(LINE, latin1 / "001.png")
    (latin1 / "001.gt.txt").write_bytes("Café crème".encode("latin-1"))
    (folder / "huge.png").write_bytes(_png_header(30000, 30000))
    data = (SAMPLES / "sample-page.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    _pdf_without_pages(folder / "empty.pdf")
    (folder / "page.pdf").write_bytes(b"%PDF-1.4 not read: the option is refused first")
    (folder / "zero-size.xml").write_text(_page_xml_with('imageWidth="1700"', 'imageWidth="0"'), encoding="utf-8")
    (folder / "huge-size.xml").write_text(
        _page_xml_with('imageWidth="1700" imageHeight="2200"', 'imageWidth="99999999999" imageHeight="99999999999"'),
        encoding="utf-8",
    )
    (folder / "dup-ids.xml").write_text(_page_xml_with('id="l002"', 'id="l001"'), encoding="utf-8")
    (folder / "not-xml.xml").write_text("this is not XML <", encoding="utf-8")
    with open(folder / "over-the-cap.xml", "wb") as f:  # sparse: just over the page file cap, unread
        f.truncate(MAX_BYTES + 1)
    (folder / "empty.png").write_bytes(b"")
    (folder / "loop.png").symlink_to("loop.png")
    (folder / "dup").mkdir()
    shutil.copy(SAMPLES / "sample-page.png", folder / "dup" / "sample-page.png")
    shutil.copy(folder / "dup-ids.xml", folder / "dup" / "sample-page.xml")  # its lines are reused


TRAIN = ["--size", "tiny", "--steps", "1", "--batch-size", "2", "--device", "cpu"]

ROWS = {
    # kind: (command; {IN} inputs, {OUT} an output folder holding an earlier result, {MODEL} a tiny
    #        CTC model; what the error line must name; the reason it must give, lower case)
    "missing page": (
        ["transcribe", "{IN}/missing.png", "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/missing.png",
        "no such file",
    ),
    "folder as page": (
        ["transcribe", "{IN}/a-folder.png", "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/a-folder.png",
        "folder",
    ),
    "fifo as page": (
        ["transcribe", "{IN}/pipe.png", "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/pipe.png",
        "not a regular file",
    ),
    "device as page": (
        ["transcribe", "/dev/zero", "--model", "{MODEL}", "--out", "{OUT}"],
        "/dev/zero",
        "not a regular file",
    ),
    "link to itself as page": (
        ["transcribe", "{IN}/loop.png", "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/loop.png",
        "symbolic links",
    ),
    "fifo as segment page": (["segment", "{IN}/pipe.png", "--out", "{OUT}"], "{IN}/pipe.png", "not a regular file"),
    "fifo as line image": (["recognize", "{IN}/pipe.png", "--model", "{MODEL}"], "{IN}/pipe.png", "not a regular file"),
    "fifo as model": (
        ["recognize", str(LINE), "--model", "{IN}/pipe.safetensors"],
        "{IN}/pipe.safetensors",
        "not a regular file",
    ),
    "fifo as imported model": (
        ["models", "import", "{IN}/pipe.safetensors", "--name", "x"],
        "{IN}/pipe.safetensors",
        "not a regular file",
    ),
    "fifo as xml": (
        ["convert", "{IN}/pipe.xml", "--to", "txt", "--out", "{OUT}"],
        "{IN}/pipe.xml",
        "not a regular file",
    ),
    "non-utf-8 file name": (
        ["transcribe", "{IN}/" + NON_UTF8, "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/caf",
        "utf-8",
    ),
    "non-utf-8 ground truth (train)": (
        ["train", "{IN}/latin1-lines", "--out", "{OUT}/run", *TRAIN],
        "{IN}/latin1-lines/001.gt.txt",
        "utf-8",
    ),
    "non-utf-8 ground truth (eval)": (
        ["eval", "{IN}/latin1-lines", "--model", "{MODEL}"],
        "{IN}/latin1-lines/001.gt.txt",
        "utf-8",
    ),
    "decoder head of a ctc model": (
        ["recognize", str(LINE), "--model", "{MODEL}", "--head", "decoder"],
        "{MODEL}",
        "decoder",
    ),
    "negative threads": (
        ["transcribe", "{IN}/sample-page.png", "--model", "{MODEL}", "--out", "{OUT}", "--threads", "-1"],
        "--threads",
        "-1",
    ),
    "zero batch size": (["recognize", str(LINE), "--model", "{MODEL}", "--batch-size", "0"], "--batch-size", "0"),
    "dpi 5": (["transcribe", "{IN}/page.pdf", "--model", "{MODEL}", "--out", "{OUT}", "--dpi", "5"], "--dpi", "5"),
    "val-every 0": (["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--val-every", "0"], "--val-every", "0"),
    "lr nan": (["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--lr", "nan"], "--lr", "nan"),
    "ema decay 1": (["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--ema-decay", "1"], "--ema-decay", "below 1"),
    "tuned share 1.5": (
        ["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--base", "{MODEL}", "--tuned-share", "1.5"],
        "--tuned-share",
        "1.5",
    ),
    "tuned share without a base": (
        ["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--tuned-share", "0.5"],
        "--tuned-share",
        "--base",
    ),
    "select-blended with a share of 1": (
        [
            "train",
            str(LINES),
            "--out",
            "{OUT}/run",
            *TRAIN,
            "--base",
            "{MODEL}",
            "--tuned-share",
            "1",
            "--select-blended",
        ],
        "--select-blended",
        "--tuned-share between 0 and 1",
    ),
    "select-blended without a base": (
        ["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--select-blended"],
        "--select-blended",
        "--base",
    ),
    "augment strength over the most": (
        ["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--augment-strength", "5"],
        "--augment-strength",
        "at most 3",
    ),
    "augment strength without augmentation": (
        ["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--augment-strength", "2", "--no-augment"],
        "--augment-strength",
        "--no-augment",
    ),
    "install-as a path": (
        ["train", str(LINES), "--out", "{OUT}/run", *TRAIN, "--install-as", "../bad"],
        "../bad",
        "not a usable model name",
    ),
    "pdf without pages": (
        ["transcribe", "{IN}/empty.pdf", "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/empty.pdf",
        "no pages",
    ),
    "image over our limit": (
        ["transcribe", "{IN}/huge.png", "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/huge.png",
        "limit of 120 mp",
    ),
    "bad page after a good one": (
        ["transcribe", "{IN}/sample-page.png", "{IN}/truncated.png", "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/truncated.png",
        "truncated",
    ),
    "page size 0 to pdf": (
        ["convert", "{IN}/zero-size.xml", "--to", "pdf", "--out", "{OUT}"],
        "{IN}/zero-size.xml",
        "page size",
    ),
    "page size past pdf's limit": (
        ["convert", "{IN}/huge-size.xml", "--to", "pdf", "--out", "{OUT}"],
        "{IN}/huge-size.xml",
        "pdf",
    ),
    "duplicate ids to page": (
        ["convert", "{IN}/dup-ids.xml", "--to", "page", "--out", "{OUT}"],
        "{IN}/dup-ids.xml",
        "duplicate id",
    ),
    "duplicate ids to alto": (
        ["convert", "{IN}/dup-ids.xml", "--to", "alto", "--out", "{OUT}"],
        "{IN}/dup-ids.xml",
        "duplicate id",
    ),
    "duplicate ids beside a page": (
        ["transcribe", "{IN}/dup/sample-page.png", "--model", "{MODEL}", "--out", "{OUT}"],
        "{IN}/dup/sample-page.png",
        "duplicate id",
    ),
    "not xml": (["convert", "{IN}/not-xml.xml", "--to", "page", "--out", "{OUT}"], "{IN}/not-xml.xml", "xml"),
    "page file over the cap": (
        ["convert", "{IN}/over-the-cap.xml", "--to", "txt", "--out", "{OUT}"],
        "{IN}/over-the-cap.xml",
        "over the limit of 16 mib",
    ),
    "missing xml": (
        ["convert", "{IN}/missing.xml", "--to", "page", "--out", "{OUT}"],
        "{IN}/missing.xml",
        "no such file",
    ),
    "empty line image": (["recognize", "{IN}/empty.png", "--model", "{MODEL}"], "{IN}/empty.png", "empty"),
    "folder as model": (["recognize", str(LINE), "--model", "{IN}/a-folder.png"], "{IN}/a-folder.png", "needs"),
    "segment dpi 5000": (["segment", "{IN}/page.pdf", "--out", "{OUT}", "--dpi", "5000"], "--dpi", "5000"),
    "finetune val-every 0": (
        ["finetune", str(LINES), "--encoder", "{MODEL}", "--out", "{OUT}/ft", *TRAIN[2:], "--val-every", "0"],
        "--val-every",
        "0",
    ),
    "pretrain install-as a path": (
        ["pretrain", str(LINES), "--out", "{OUT}/pre", "--steps", "1", "--install-as", "../bad"],
        "../bad",
        "not a usable model name",
    ),
    "pretrain lr inf": (["pretrain", str(LINES), "--out", "{OUT}/pre", "--lr", "inf"], "--lr", "inf"),
}


def _tree(root: Path) -> dict[str, str]:
    """Every file, folder and link under ``root`` (temporary ones included) with a digest of its content."""
    return {str(p.relative_to(root)): _digest(p) for p in sorted(root.rglob("*"))}


def _digest(path: Path) -> str:
    if path.is_symlink():
        return f"link to {os.readlink(path)}"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else oct(path.stat().st_mode)


@pytest.fixture
def no_hang():
    """A row that blocks (a FIFO opened for reading) fails after 20 seconds instead of hanging."""

    def hung(signum, frame):
        raise TimeoutError("the command hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:  # argparse refuses an option value this way
        return stop.code


@pytest.mark.parametrize("kind", ROWS)
def test_a_hostile_input_is_one_clear_error(kind, tiny_model, tmp_path, monkeypatch, capsys, no_hang):
    command, named, reason = ROWS[kind]
    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "data"))
    _make_inputs(tmp_path / "in")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "earlier.xml").write_text("an earlier result", encoding="utf-8")
    fill = {"IN": tmp_path / "in", "OUT": tmp_path / "out", "MODEL": tiny_model}
    before = _tree(tmp_path)
    assert _run([part.format(**fill) for part in command]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(("mspt: error:", "mspt ")), err
    named = named.format(**fill)
    assert named in errors[0] and reason in errors[0].replace(named, "").lower(), err
    assert "Traceback" not in err
    assert _tree(tmp_path) == before  # no output changed, nothing created, no temporary file left


def test_a_long_input_name_whose_output_name_fits_is_written(tmp_path, capsys):
    # 250 characters: "NAME.xml" fits in 255 bytes, a temporary name made by prefixing it would not.
    long = tmp_path / ("x" * 246 + ".xml")
    shutil.copy(SAMPLES / "sample-page.xml", long)
    assert main(["convert", str(long), "--to", "page", "--out", str(tmp_path / "out")]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == [long.name]


def test_keep_going_writes_the_good_pages_and_lists_the_bad(tiny_model, tmp_path, capsys):
    _make_inputs(tmp_path / "in")
    good, bad, missing = tmp_path / "in" / "sample-page.png", tmp_path / "in" / "truncated.png", tmp_path / "nope.png"
    code = main(
        [
            "transcribe",
            str(good),
            str(bad),
            str(missing),
            "--model",
            str(tiny_model),
            "--out",
            str(tmp_path / "out"),
            "--to",
            "page",
            "txt",
            "--keep-going",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sample-page.txt", "sample-page.xml"]
    errors = [line for line in err.splitlines() if line.startswith("mspt: error:")]
    assert len(errors) == 2 and str(bad) in err and str(missing) in err, err
    assert "Traceback" not in err


def test_models_export_into_a_folder_writes_the_file_there(tiny_model, tmp_path, capsys):
    assert main(["models", "export", str(tiny_model), str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["t.safetensors"]  # the model's own name ("t")


def test_convert_says_why_a_file_in_a_folder_was_skipped(tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(SAMPLES / "sample-page.xml", folder / "good.xml")
    shutil.copy(SAMPLES / "sample-page.xml", folder / os.fsdecode(b"caf\xe9.xml"))
    (folder / "mets.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")
    assert main(["convert", str(folder), "--to", "txt", "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "caf\\xe9.xml: skipped: its name is not valid UTF-8" in err
    assert "mets.xml: skipped: neither PAGE XML nor ALTO" in err
