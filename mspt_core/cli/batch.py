"""Batch work at library scale for ``mspt transcribe``: which page files a run reads, what each
one's outputs are called, which of them this process does (``--shard K/N``), and which are done
already (resume).

- **Inputs.** Files are taken as given; a folder is walked by ``mspt_core.inputs.folder_files``
  (sorted by path, hidden files and folders and the output folder left out) for page images and
  PDFs. Outputs mirror the folder's tree: the page ``scans/vol1/0001.jpg`` of the input folder
  ``scans`` writes ``OUT/vol1/0001.xml``; a file given by itself writes ``OUT/0001.xml``.
- **Shards.** A page file belongs to shard ``K`` of ``N`` (0 <= K < N) when a hash of its output
  name is ``K`` modulo ``N``. The assignment depends only on the name, not on the listing, so the
  shards are disjoint and cover everything even when they start at different times or the tree
  grows in between. Without ``--shard``, the shard comes from torchrun (``RANK``/``WORLD_SIZE``) or
  a Slurm job array (``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``) when those are set.
- **Resume.** Every output is written atomically (``mspt_core.atomic``), so an output that exists
  is complete. A page file whose outputs all exist is skipped; a killed run started again picks
  up where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mspt_core.errors import MsptError
from mspt_core.inputs import PAGE_SUFFIXES, folder_files, page_stem

PER_PAGE = ("page", "alto")  # one XML file per page; the other formats: one file per input file


@dataclass(frozen=True)
class PageFile:
    """An input file (image or PDF) and the name its outputs take under ``--out``, without
    extension, with ``/`` between folders (``vol1/0001``)."""

    path: Path
    name: str


@dataclass(frozen=True)
class Shard:
    index: int
    count: int
    origin: str = "--shard"  # where it came from, for the note a run prints

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, name: str) -> bool:
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


def parse_shard(text: str) -> Shard:
    """``K/N`` with 0 <= K < N (argparse type)."""
    index, slash, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count)) if slash else None
    except ValueError:
        shard = None
    if shard is None or shard.count < 1 or not 0 <= shard.index < shard.count:
        raise argparse.ArgumentTypeError(
            f"must be K/N with N at least 1 and K from 0 to N-1 (e.g. 0/4 ... 3/4), not {text!r}"
        )
    return shard


def shard_from_environment(env: Mapping[str, str] | None = None) -> Shard | None:
    """The shard torchrun or a Slurm job array gives this process, or None outside both."""
    env = os.environ if env is None else env

    def number(name: str, default: int | None = None) -> int:
        text = env.get(name)
        if text is None and default is not None:
            return default
        try:
            return int(text or "")
        except ValueError:
            raise MsptError(f"${name} is {text!r}, not a whole number; give --shard K/N instead") from None

    if "WORLD_SIZE" in env and "RANK" in env:
        index, count, origin = number("RANK"), number("WORLD_SIZE"), "RANK/WORLD_SIZE"
    elif "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        # Array ids need not start at 0 (--array=1-100) and may step (--array=0-30:10).
        first, step = number("SLURM_ARRAY_TASK_MIN", 0), max(1, number("SLURM_ARRAY_TASK_STEP", 1))
        index = (number("SLURM_ARRAY_TASK_ID") - first) // step
        count, origin = number("SLURM_ARRAY_TASK_COUNT"), "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"
    else:
        return None
    if count < 1 or not 0 <= index < count:
        raise MsptError(f"${origin} gives shard {index} of {count}, which does not exist; give --shard K/N instead")
    return Shard(index, count, origin)


def page_files(inputs: Iterable[Path], out_dir: Path) -> list[PageFile]:
    """The page files of ``inputs`` (files as given, folders walked) with their output names."""
    found: list[PageFile] = []
    for given in inputs:
        if not given.is_dir():
            found.append(PageFile(given, given.stem))  # checked (and refused) later, as before
            continue
        # A page file that cannot be read (a pipe, a broken link) is kept, to be reported.
        paths = folder_files(given, PAGE_SUFFIXES, hidden=False, skip=[out_dir], regular=False)
        if not paths:
            raise MsptError(f"{given}: the folder holds no page images or PDFs")
        found += [PageFile(path, path.relative_to(given).with_suffix("").as_posix()) for path in paths]
    return found


def check_names(files: list[PageFile], out_dir: Path) -> None:
    """Refuse, before any work, page files whose outputs would overwrite each other or the
    input's own PAGE/ALTO file (see ``cli.common.check_output_names``)."""
    from mspt_core.cli.common import check_output_names

    check_output_names([(file.name, file.path) for file in files], out_dir)


def page_outputs(name: str, formats: list[str]) -> list[str]:
    """The per-page output file names of page ``name`` (a page's own name, e.g. ``vol1/0001``
    or ``book_p003``) in ``formats``."""
    from mspt_core.formats import EXTENSIONS

    suffixes = []
    for fmt in formats:
        if fmt in PER_PAGE:
            suffixes.append(".alto.xml" if fmt == "alto" and "page" in formats else EXTENSIONS[fmt])
    return [name + suffix for suffix in suffixes]


def file_outputs(name: str, formats: list[str]) -> list[str]:
    """The per-file output names (text, hOCR, PDF: one per input file) of page file ``name``."""
    from mspt_core.formats import EXTENSIONS

    return [name + EXTENSIONS[fmt] for fmt in formats if fmt not in PER_PAGE]


def page_name(file: PageFile, index: int, count: int) -> str:
    """The output name of page ``index`` of the ``count`` pages of ``file``."""
    own = page_stem(file.path, index, count)  # the file's stem, with the page's number when it has several
    return file.name + own[len(file.path.stem) :]


def is_done(file: PageFile, formats: list[str], out_dir: Path) -> bool:
    """Whether every output of ``file`` exists in ``out_dir`` (and so is complete: outputs are
    written atomically). A multi-page file (PDF, TIFF) is done when all its pages are."""
    if not all((out_dir / name).is_file() for name in file_outputs(file.name, formats)):
        return False
    if not any(fmt in PER_PAGE for fmt in formats):
        return True
    if all((out_dir / name).is_file() for name in page_outputs(file.name, formats)):
        return True
    first = page_outputs(page_name(file, 0, 2), formats)  # written only for a file of several pages
    if not all((out_dir / name).is_file() for name in first):
        return False
    from mspt_core.images import page_count

    try:
        count = page_count(file.path)
    except MsptError:
        return False  # the run reports it
    return all(
        (out_dir / name).is_file() for i in range(count) for name in page_outputs(page_name(file, i, count), formats)
    )


def device_for_local_rank(device: str, env: Mapping[str, str] | None = None) -> str:
    """Under torchrun on a machine with several GPUs, ``auto`` becomes this process's own GPU
    (``cuda:LOCAL_RANK``) instead of every process sharing the first."""
    env = os.environ if env is None else env
    if device != "auto" or "LOCAL_RANK" not in env:
        return device
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return device
    try:
        return f"cuda:{int(env['LOCAL_RANK']) % torch.cuda.device_count()}"
    except ValueError:
        return device
