"""`mspt transcribe` at library scale: folders walked with their tree mirrored, `--shard K/N`
(or torchrun's / a Slurm array's variables) splitting the work without overlap, and a stopped
run resuming without redoing the pages it finished."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mspt_core.cli import batch, main
from mspt_core.errors import MsptError
from tests.conftest import DATA, _image_of, split_xmls

from .conftest import SAMPLES

READ = ["--reread", "--pages-per-batch", "1", "--device", "cpu", "--engine", "torch"]


# --- shards -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0/1", "3/4", "15/16"])
def test_shard_k_of_n_parses(text):
    shard = batch.parse_shard(text)
    assert str(shard) == text


@pytest.mark.parametrize("text", ["4/4", "-1/4", "1/0", "1", "a/b", "1/2/3", ""])
def test_a_shard_that_does_not_exist_is_refused(text, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["transcribe", str(SAMPLES / "sample-page.png"), "--out", str(tmp_path / "out"), f"--shard={text}"])
    assert stop.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--shard" in errors[0] and "K/N" in errors[0], errors
    assert not (tmp_path / "out").exists()


def test_shards_are_disjoint_and_cover_every_name():
    names = [f"vol{v}/{p:04d}" for v in range(20) for p in range(50)]
    for count in (1, 2, 3, 7):
        owners = [[k for k in range(count) if batch.Shard(k, count).owns(name)] for name in names]
        assert all(len(found) == 1 for found in owners)  # each name in exactly one shard
        sizes = [sum(1 for found in owners if found == [k]) for k in range(count)]
        assert min(sizes) > 0.7 * len(names) / count  # and the shards are of about the same size


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"RANK": "3", "WORLD_SIZE": "8"}, "3/8"),
        ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "10"}, "5/10"),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"}, "0/4"),
        (
            {
                "SLURM_ARRAY_TASK_ID": "30",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_STEP": "10",
            },
            "3/4",
        ),
        # torchrun inside a Slurm array job: torchrun's variables describe this process.
        ({"RANK": "1", "WORLD_SIZE": "2", "SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "9"}, "1/2"),
        ({"SLURM_ARRAY_TASK_ID": "0"}, None),  # not an array job's full set: no shard
    ],
)
def test_the_shard_comes_from_torchrun_or_a_slurm_array(env, expected):
    shard = batch.shard_from_environment(env)
    assert (str(shard) if shard else None) == expected


@pytest.mark.parametrize(
    "env",
    [
        {"RANK": "x", "WORLD_SIZE": "2"},
        {"RANK": "2", "WORLD_SIZE": "2"},
        {"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "4"},
    ],
)
def test_a_shard_the_environment_gets_wrong_is_one_clear_error(env, tmp_path, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["transcribe", str(SAMPLES / "sample-page.png"), "--out", str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("mspt: error: $") and "--shard" in errors[0], errors


# --- folders and names -------------------------------------------------------------------------


def _tree_of_samples(root: Path, names: list[str]) -> Path:
    """The sample page (with its true lines beside it) under each of ``names``."""
    for name in names:
        target = root / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / "sample-page.png", target)
        shutil.copy(SAMPLES / "sample-page.xml", target.with_suffix(".xml"))
    return root


def test_a_folder_is_walked_in_order_and_its_tree_named_in_the_output(tmp_path):
    scans = _tree_of_samples(tmp_path / "scans", ["b/2", "a/1", "a/sub/3", ".hidden/4", "out/5"])
    (scans / "a" / "notes.txt").write_text("not a page", encoding="utf-8")
    (scans / "a" / ".partial.png").write_bytes(b"")
    found = batch.page_files([scans, SAMPLES / "sample-page.png"], scans / "out")
    assert [f.name for f in found] == ["a/1", "a/sub/3", "b/2", "sample-page"]  # not the output folder's
    assert found[0].path == scans / "a" / "1.png"


def test_an_empty_folder_and_clashing_names_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MsptError, match="empty: the folder holds no page images"):
        batch.page_files([tmp_path / "empty"], tmp_path / "out")
    first = _tree_of_samples(tmp_path / "one", ["0001"])
    second = _tree_of_samples(tmp_path / "two", ["0001"])
    with pytest.raises(MsptError, match="would write the same output files"):
        batch.check_names(batch.page_files([first, second], tmp_path / "out"), tmp_path / "out")


def test_a_pages_ground_truth_in_page_is_never_overwritten(tmp_path):
    scans = _tree_of_samples(tmp_path / "scans", ["0001"])
    (scans / "page").mkdir()
    shutil.move(scans / "0001.xml", scans / "page" / "0001.xml")  # Transkribus' layout
    files = batch.page_files([scans], scans / "page")
    with pytest.raises(MsptError, match="belongs to the input 0001.png"):
        batch.check_names(files, scans / "page")


def test_a_file_of_several_pages_is_done_when_all_its_pages_are(tmp_path):
    pdf = tmp_path / "book.pdf"
    from PIL import Image

    Image.new("L", (200, 300), 255).save(pdf, save_all=True, append_images=[Image.new("L", (200, 300), 255)] * 2)
    file = batch.PageFile(pdf, "shelf/book")
    assert batch.page_name(batch.PageFile(tmp_path / "a.pdf_page_51.png", "a.pdf_page_51"), 0, 1) == "a.pdf_page_51"
    assert batch.page_name(file, 2, 3) == "shelf/book_p003"
    out = tmp_path / "out"
    (out / "shelf").mkdir(parents=True)
    assert not batch.is_done(file, ["page", "txt"], out)
    for page in (1, 2):
        (out / "shelf" / f"book_p00{page}.xml").write_text("x", encoding="utf-8")
    (out / "shelf" / "book.txt").write_text("x", encoding="utf-8")
    assert not batch.is_done(file, ["page", "txt"], out)  # page 3 missing
    (out / "shelf" / "book_p003.xml").write_text("x", encoding="utf-8")
    assert batch.is_done(file, ["page", "txt"], out)
    assert not batch.is_done(file, ["page", "alto", "txt"], out)  # the ALTO files are missing


# --- whole runs --------------------------------------------------------------------------------


def _outputs(folder: Path) -> dict[str, str]:
    """Every output file under ``folder`` (temporary files left by a killed write excluded) with
    its content; PAGE's Created/LastChange (the time of writing) blanked."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            text = path.read_text(encoding="utf-8")
            found[path.relative_to(folder).as_posix()] = re.sub(r"<(Created|LastChange)>[^<]*</\1>", r"<\1/>", text)
    return found


def test_two_shards_write_exactly_what_one_process_writes(tmp_path, monkeypatch, capsys):
    dataset = DATA / "ocrd-print-de"
    if not dataset.exists():
        pytest.skip(f"needs {dataset} (the shared ground truth beside the clone); not present here")
    pages = tmp_path / "pages"  # the test split's page images with their PAGE XML, in their document folders
    for xml in split_xmls(dataset, "test"):
        folder = pages / xml.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(xml, folder / xml.name)
        shutil.copy(_image_of(xml), folder / _image_of(xml).name)
    assert len(list(pages.rglob("*.xml"))) >= 3

    command = ["transcribe", str(pages), "--to", "page", "txt", *READ]
    assert main([*command, "--out", str(tmp_path / "one")]) == 0
    alone = capsys.readouterr()
    assert main([*command, "--out", str(tmp_path / "shards"), "--shard", "0/2"]) == 0
    first = capsys.readouterr()
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")  # the second shard as a Slurm array task
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    assert main([*command, "--out", str(tmp_path / "shards")]) == 0
    second = capsys.readouterr()

    one = _outputs(tmp_path / "one")
    assert len(one) == 2 * len(list(pages.rglob("*.xml")))
    assert all(name.count("/") == 1 for name in one)  # the document folders mirrored
    assert _outputs(tmp_path / "shards") == one
    done_by = [{line.split("\t")[0] for line in run.out.splitlines()} for run in (alone, first, second)]
    assert done_by[1] | done_by[2] == done_by[0] and not done_by[1] & done_by[2]
    assert "shard 1/2 (from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT)" in second.err


def _transcribe_command(pages: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mspt_core.cli",
        "transcribe",
        str(pages),
        "--out",
        str(out),
        "--to",
        "page",
        "txt",
        *READ,
    ]


def test_a_killed_run_started_again_finishes_without_redoing_done_pages(tmp_path, capsys):
    names = [f"vol{v}/{p:03d}" for v in (1, 2) for p in range(1, 5)]
    pages = _tree_of_samples(tmp_path / "pages", names)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}

    run = subprocess.Popen(_transcribe_command(pages, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not list(out.rglob("*.txt")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)  # no clean-up of any kind: a power cut, an OOM kill, a scheduler's limit
    run.wait()
    assert run.returncode == -signal.SIGKILL, "the run ended before it could be killed"

    def complete(name: str) -> bool:
        return all((out / f"{name}{suffix}").is_file() for suffix in (".xml", ".txt"))

    finished = {
        name: {s: os.stat(out / f"{name}{s}").st_mtime_ns for s in (".xml", ".txt")} for name in names if complete(name)
    }
    assert 0 < len(finished) < len(names), finished

    again = subprocess.run(
        _transcribe_command(pages, out), env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert again.returncode == 0, again.stderr[-2000:]
    redone = {
        Path(line.split("\t")[0]).relative_to(pages).with_suffix("").as_posix() for line in again.stdout.splitlines()
    }
    assert redone == set(names) - set(finished)  # every page not finished, and no other
    assert f"{len(finished)} of {len(names)} input files already done" in again.stderr
    for name, stamps in finished.items():  # not written again
        assert {s: os.stat(out / f"{name}{s}").st_mtime_ns for s in (".xml", ".txt")} == stamps
    outputs = _outputs(out)
    assert sorted(outputs) == sorted(f"{name}{s}" for name in names for s in (".txt", ".xml"))
    assert len({text for name, text in outputs.items() if name.endswith(".txt")}) == 1  # every copy read alike

    assert main(_transcribe_command(pages, out)[3:]) == 0  # a third time: nothing left to do
    third = capsys.readouterr()
    assert third.out == "" and f"{len(names)} of {len(names)} input files already done" in third.err
