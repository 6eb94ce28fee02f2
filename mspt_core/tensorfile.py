"""Tensors + JSON in one safetensors file: the one reader and writer of every such file mspt
makes (models, the line finder, k-means targets, training checkpoints), with the checks every
one of them needs.

A file holds named tensors and a header of text values; mspt keeps JSON in those values. Reading
never unpickles: a pickle (or a zip of pickles, what ``torch.save`` writes) is recognized by its
first bytes and refused unopened; a FIFO or device is refused before it is opened; shapes can be
read from the header alone, so a caller can check them against what the metadata asks for
before building anything (``check_shapes``)."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from mspt_core.atomic import atomic_write
from mspt_core.errors import ModelFileError
from mspt_core.inputs import file_problem

T = TypeVar("T")


def encode(
    tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, object] | None = None, indent: int | None = None
) -> bytes:
    """The bytes of a file holding ``tensors`` (copied to the CPU, contiguous) and ``metadata``,
    each value stored as JSON text (``dumps``) under its key."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    header = {k: dumps(v, indent) for k, v in (metadata or {}).items()}
    return save(tensors, metadata=header or None)


def dumps(value: object, indent: int | None = None) -> str:
    """A header value's JSON text (non-ASCII kept as it is)."""
    return json.dumps(value, ensure_ascii=False, indent=indent)


def write(
    path: str | os.PathLike,
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, object] | None = None,
    indent: int | None = None,
) -> Path:
    """Write ``tensors`` and ``metadata`` (see ``encode``) to ``path`` atomically."""
    return atomic_write(path, encode(tensors, metadata, indent))


@dataclass
class TensorFile:
    """An opened file: its header's text values and its tensors' shapes (read without loading
    a tensor); ``tensors()`` loads them."""

    path: Path
    what: str  # what the file should be, for messages: "model", "checkpoint", ...
    header: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def json(self, key: str) -> object:
        """The JSON value stored under ``key``; ModelFileError when it is missing or not JSON."""
        if key not in self.header:
            raise ModelFileError(f"{self.path}: not an mspt {self.what} (no {key!r} in its header)")
        try:
            return json.loads(self.header[key])
        except ValueError as error:
            raise ModelFileError(f"{self.path}: the {key!r} in its header is not valid JSON ({error})") from error

    def tensors(self, names: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        """The tensors (all, or those named), on the CPU."""
        try:
            with safe_open(str(self.path), framework="pt") as f:
                return {k: f.get_tensor(k) for k in (self.shapes if names is None else names)}
        except (SafetensorError, OSError) as error:
            raise ModelFileError(f"{self.path}: not a readable {self.what} ({error})") from error


def open_file(path: str | os.PathLike, what: str) -> TensorFile:
    """Open ``path`` as a tensor file; ModelFileError naming the path and ``what`` it should be
    when it is not one (missing, not a regular file, a pickle, damaged)."""
    path = Path(path)
    problem = file_problem(path)  # a FIFO would block the first read forever
    if problem:
        raise ModelFileError(f"{path}: {problem}")
    refuse_pickle(path, what)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = dict(f.metadata() or {})
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError) as error:
        raise ModelFileError(f"{path}: not a readable {what} ({error})") from error
    return TensorFile(path, what, header, shapes)


def check_shapes(
    file: TensorFile, expected: Mapping[str, tuple[int, ...]], optional: Iterable[str] = (), detail: str = ""
) -> None:
    """Refuse ``file`` unless its tensors are exactly ``expected`` (names and shapes); names in
    ``optional`` may be missing. ``detail`` says what the expectation comes from."""
    expected = {k: tuple(v) for k, v in expected.items()}
    why = f" {detail}" if detail else ""
    wrong = [k for k in file.shapes if k in expected and file.shapes[k] != expected[k]]
    if wrong:
        raise ModelFileError(
            f"{file.path}: weights do not match{why} ({wrong[0]} has shape {file.shapes[wrong[0]]}, "
            f"expected {expected[wrong[0]]})"
        )
    skippable = set(optional)
    missing = [k for k in expected if k not in file.shapes and k not in skippable]
    unexpected = [k for k in file.shapes if k not in expected]
    if missing or unexpected:
        raise ModelFileError(
            f"{file.path}: weights do not match{why} (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )


def bundled_or_none(path: Path, load: Callable[[Path], T], unusable: str) -> T | None:
    """A file shipped with mspt, loaded with ``load``; None where it is missing, and also where
    it is unreadable, then with a warning: ``unusable`` (what happens instead) and why."""
    if not path.is_file():
        return None
    try:
        return load(path)
    except ModelFileError as error:
        warnings.warn(f"{unusable}: {error}", stacklevel=3)
        return None


def check_format_version(path: Path, meta: dict, newest: int) -> None:
    """Refuse a file whose metadata's ``format_version`` (missing: 0) is not a whole number or
    is newer than ``newest``, the newest this mspt reads."""
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path}: format_version must be a whole number, not {version!r}")
    if version > newest:
        raise ModelFileError(f"{path}: made by a newer mspt (format {version}); please upgrade")


def refuse_pickle(path: Path, what: str = "model") -> None:
    """ModelFileError when ``path`` is a pickle or a zip of pickles (what ``torch.save``
    writes), told by its first bytes: it is never opened as one, since unpickling runs code."""
    with open(path, "rb") as f:
        head = f.read(9)
    if not _starts_like_safetensors(head, path.stat().st_size) and _starts_like_pickle(head):
        raise ModelFileError(
            f"{path}: this is a PyTorch/pickle file (a pickle or a zip of pickles), not a safetensors "
            f"{what}; mspt never loads pickles because they can run code. Convert it to safetensors + JSON first."
        )


def _starts_like_safetensors(head: bytes, size: int) -> bool:
    """A safetensors file starts with its header's length (8 bytes, little-endian) and then the
    header's JSON. That length may begin with any byte, 0x80 and "PK" included, so this is asked
    before looking for a pickle's or a zip's first bytes."""
    length = int.from_bytes(head[:8], "little")
    return len(head) == 9 and 2 <= length <= size - 8 and head[8:9] == b"{"


def _starts_like_pickle(head: bytes) -> bool:
    # Pickle protocol 2+ begins with PROTO (0x80); torch.save writes a zip ("PK") since PyTorch 1.6.
    return head[:1] == b"\x80" or head[:2] == b"PK"
