"""An unlabeled line store for pre-training: height-normalized grey uint8 line images written
as numpy shards, streamed with bounded memory.

Layout of a store folder::

    store.json              height, shard names and line counts (written last, atomically)
    shard-000000.npz        "pixels" (height, sum of widths) uint8 and "widths" (n,) int32

A shard holds its lines side by side in one array, so reading it is one ``np.load`` (never a
pickle: ``allow_pickle=False``). Training reads an epoch as a plan (``EpochPlan``): shards in a
seeded random order, taken a window of a few shards at a time, lines shuffled within the
window and grouped by width. Only one window is in memory at a time, so memory depends on the
shard size, never on the number of lines; any batch of the plan can be fetched by its index,
so a run resumes mid-epoch exactly. With several ranks each rank reads its own shards."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mspt_core.atomic import atomic_write
from mspt_core.data.batching import to_height, width_batches
from mspt_core.errors import DataError, MsptError
from mspt_core.inputs import (
    PAGE_SUFFIXES,
    PDF_SUFFIX,
    XML_SUFFIX,
    expand_folders,
    ground_truth_candidates,
    has_suffix,
)

INDEX = "store.json"
FORMAT = "mspt-linestore"


class LineStoreWriter:
    """Appends line images and writes a shard every ``lines_per_shard`` lines."""

    def __init__(self, root: Path, height: int, lines_per_shard: int = 1024):
        self.root = Path(root)
        if (self.root / INDEX).exists():
            raise DataError(f"{self.root}: already holds a line store")
        self.root.mkdir(parents=True, exist_ok=True)
        self.height = height
        self.lines_per_shard = lines_per_shard
        self.shards: list[dict] = []
        self.pending: list[np.ndarray] = []

    def add(self, image: np.ndarray, flush: bool = True) -> None:
        """A grey uint8 line image; scaled to the store's height when it has another. With
        ``flush=False`` the caller decides when a shard is written (``flush()``)."""
        if image.dtype != np.uint8 or image.ndim != 2:
            raise ValueError("line images must be grey uint8 (H, W) arrays")
        self.pending.append(to_height(image, self.height))
        if flush and len(self.pending) >= self.lines_per_shard:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        name = f"shard-{len(self.shards):06d}.npz"
        widths = np.array([img.shape[1] for img in self.pending], dtype=np.int32)
        atomic_write(
            self.root / name,
            lambda f: np.savez_compressed(f, pixels=np.concatenate(self.pending, axis=1), widths=widths),
        )
        self.shards.append({"file": name, "lines": len(self.pending)})
        self.pending = []

    def close(self) -> LineStore:
        self.flush()
        if not self.shards:
            raise DataError(f"{self.root}: no lines were added to the store")
        index = {
            "format": FORMAT,
            "version": 1,
            "height": self.height,
            "shards": self.shards,
            "lines": sum(s["lines"] for s in self.shards),
        }
        atomic_write(self.root / INDEX, json.dumps(index, indent=1).encode("utf-8"))
        return LineStore(self.root)


class LineStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        try:
            index = json.loads((self.root / INDEX).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise DataError(f"{self.root}: not a line store ({error})") from error
        if index.get("format") != FORMAT:
            raise DataError(f"{self.root}: not an mspt line store")
        self.height: int = index["height"]
        self.shard_files: list[str] = [s["file"] for s in index["shards"]]
        self.shard_sizes = np.array([s["lines"] for s in index["shards"]], dtype=np.int64)

    @staticmethod
    def is_store(path: Path) -> bool:
        return (Path(path) / INDEX).is_file()

    def __len__(self) -> int:
        return int(self.shard_sizes.sum())

    @property
    def num_shards(self) -> int:
        return len(self.shard_files)

    def read_shard(self, index: int) -> list[np.ndarray]:
        path = self.root / self.shard_files[index]
        try:
            with np.load(path, allow_pickle=False) as data:
                pixels, widths = data["pixels"], data["widths"]
        except (OSError, ValueError, KeyError) as error:
            raise DataError(f"{path}: unreadable shard ({error})") from error
        edges = np.concatenate([[0], np.cumsum(widths)])
        return [pixels[:, edges[i] : edges[i + 1]] for i in range(len(widths))]

    def iter_lines(self, shard_order: Iterable[int] | None = None) -> Iterator[np.ndarray]:
        for shard in shard_order if shard_order is not None else range(self.num_shards):
            yield from self.read_shard(shard)

    def plan(self, batch_size: int, seed: int, rank: int = 0, world: int = 1, shards_per_window: int = 4) -> EpochPlan:
        return EpochPlan(self, batch_size, seed, rank, world, shards_per_window)


class EpochPlan(Sequence):
    """One epoch of one rank as a random-access sequence of batches (lists of line images).

    Shards are permuted with ``seed``; rank r takes every world-th shard from r. Ranks get
    the same number of batches (the shortest rank's count), so data-parallel steps stay in
    lock step. Consecutive windows of ``shards_per_window`` shards are mixed: their lines are
    shuffled together and cut into width-bucketed batches."""

    def __init__(
        self, store: LineStore, batch_size: int, seed: int, rank: int = 0, world: int = 1, shards_per_window: int = 4
    ):
        if store.num_shards < world:
            raise DataError(
                f"{store.root}: {store.num_shards} shards cannot feed {world} ranks; "
                "rebuild the store with fewer lines per shard"
            )
        self.store = store
        self.batch_size = batch_size
        self.seed = seed
        order = np.random.default_rng([seed, 0]).permutation(store.num_shards)

        def windows_of(r: int) -> list[list[int]]:
            mine = order[r::world].tolist()
            return [mine[i : i + shards_per_window] for i in range(0, len(mine), shards_per_window)]

        def batch_counts(windows: list[list[int]]) -> list[int]:
            return [-(-int(store.shard_sizes[w].sum()) // batch_size) for w in windows]

        self.windows = windows_of(rank)
        counts = batch_counts(self.windows)
        shortest = min(sum(batch_counts(windows_of(r))) for r in range(world))
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        self.length = min(shortest, int(self.starts[-1]))
        self._cached: tuple[int, list[np.ndarray], list[list[int]]] | None = None

    def __len__(self) -> int:
        return self.length

    def _window(self, w: int) -> tuple[list[np.ndarray], list[list[int]]]:
        if self._cached is None or self._cached[0] != w:
            lines = [img for shard in self.windows[w] for img in self.store.read_shard(shard)]
            rng = np.random.default_rng([self.seed, 1, w])
            batches = width_batches([img.shape[1] for img in lines], self.batch_size, rng)
            self._cached = (w, lines, batches)  # one window at a time: memory stays bounded
        return self._cached[1], self._cached[2]

    def __getitem__(self, index: int) -> list[np.ndarray]:  # type: ignore[override]  # no slices
        if not 0 <= index < self.length:
            raise IndexError(index)
        w = int(np.searchsorted(self.starts, index, side="right") - 1)
        lines, batches = self._window(w)
        return [lines[i] for i in batches[index - int(self.starts[w])]]


# --- building a store from an archive -------------------------------------------------------


def _looks_like_line(path: Path) -> bool:
    """A file much wider than tall and not taller than ~4 text lines is a line image."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            w, h = img.size
    except OSError:
        return False
    return w >= 3 * h and h <= 400


def archive_files(inputs: Sequence[Path]) -> list[Path]:
    """The files of an archive that hold lines, in a fixed order: ALTO/PAGE files first, then
    images and PDFs that have no XML beside them (or in page/, Transkribus' layout)."""
    xmls, pictures = [], []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        files = expand_folders([path])
        xmls += [f for f in files if has_suffix(f, {XML_SUFFIX})]
        pictures += [f for f in files if has_suffix(f, PAGE_SUFFIXES)]
    have = {xml.with_suffix("") for xml in xmls}  # any case of ".xml"
    return xmls + [p for p in pictures if not any(gt.with_suffix("") in have for gt in ground_truth_candidates(p))]


def file_lines(path: Path, height: int, images: str = "auto", skipped: list[str] | None = None) -> Iterator[np.ndarray]:
    """Line images (grey uint8 at ``height``) of one archive file: an ALTO/PAGE file (its line
    coordinates, any text ignored), a page scan (segmented, or its ground-truth XML beside it)
    or a ready line image. ``images`` says what image files are: "pages", "lines" or "auto"
    (by shape). Unusable lines and files go to ``skipped`` with the reason."""
    from mspt_core.data.lines import line_from_image, lines_from_page_xml, page_scan_lines

    skipped = skipped if skipped is not None else []
    try:
        if has_suffix(path, {XML_SUFFIX}):
            lineset = lines_from_page_xml(path, height, require_text=False)
            skipped += lineset.skipped
            yield from (sample.image for sample in lineset.samples)
        elif images == "lines" or (images == "auto" and not has_suffix(path, {PDF_SUFFIX}) and _looks_like_line(path)):
            yield line_from_image(path, height)
        else:
            for page in page_scan_lines(path, height, skipped):
                yield from (sample.image for sample in page)
    except MsptError as error:
        skipped.append(f"{path}: {error}")


BUILD_STATE = "build.json"


def build_line_store(
    inputs: Sequence[Path],
    root: Path,
    height: int,
    lines_per_shard: int = 1024,
    images: str = "auto",
    on_line: Callable[[int], None] | None = None,
    on_file: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[LineStore | None, list[str]]:
    """Write every line of ``inputs`` into a new store at ``root``; returns it and the skipped
    lines with reasons.

    The build resumes: after each shard, ``build.json`` records how many archive files (and how
    many lines of the file in progress) the shards hold, so a build that was stopped
    (``should_stop``) or killed goes on from there when called again with the same inputs; the
    lines of a file are found the same way every time. A stopped build returns ``(None, skipped)``."""
    if images not in ("auto", "pages", "lines"):
        raise ValueError("images must be 'auto', 'pages' or 'lines'")
    root = Path(root)
    files = archive_files(inputs)
    identity = [str(Path(f).resolve()) for f in files]
    writer = LineStoreWriter(root, height, lines_per_shard)
    state: dict[str, Any] = {
        "files": identity,
        "height": height,
        "done": 0,
        "within": 0,
        "shards": [],
        "skipped": [],
        "lines": 0,
    }
    saved = _read_build_state(root)
    if saved and saved.get("files") == identity and saved.get("height") == height:
        state = saved
        writer.shards = list(saved["shards"])
    first_file, lines_in_shards = state["done"], state["within"]
    skipped: list[str] = list(state["skipped"])
    lines = state["lines"]
    stop = should_stop or (lambda: False)

    def save(done: int, within: int) -> None:
        writer.flush()
        state.update(done=done, within=within, shards=writer.shards, skipped=skipped, lines=lines)
        atomic_write(root / BUILD_STATE, json.dumps(state).encode("utf-8"))

    for index in range(first_file, len(files)):
        if stop():
            return None, skipped
        if on_file:
            on_file(index, len(files))
        already = lines_in_shards if index == first_file else 0
        for taken, image in enumerate(file_lines(files[index], height, images, skipped), 1):
            if taken <= already:
                continue  # stored before the interruption
            writer.add(image, flush=False)
            lines += 1
            if on_line:
                on_line(lines)
            if len(writer.pending) >= lines_per_shard:
                save(index, taken)
                if stop():
                    return None, skipped
        if index == len(files) - 1:
            save(index + 1, 0)
    if on_file:
        on_file(len(files), len(files))
    store = writer.close()
    (root / BUILD_STATE).unlink(missing_ok=True)
    return store, list(dict.fromkeys(skipped))  # a file read again after a resume repeats its reasons


def _read_build_state(root: Path) -> dict | None:
    try:
        return json.loads((root / BUILD_STATE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
