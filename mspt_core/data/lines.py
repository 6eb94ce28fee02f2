"""Labelled line datasets: (line image at model height, text) from ALTO / PAGE folders with
their page images, and from folders of image + ``.txt`` (or ``.gt.txt``) pairs.

Lines that cannot be used (no text, no polygon, unreadable image) are counted in ``skipped``
with the reason, never dropped silently."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mspt_core.charset import latin_lookalikes_folded, normalize
from mspt_core.data.batching import to_height
from mspt_core.document import Line
from mspt_core.errors import DataError, MsptError
from mspt_core.inputs import IMAGE_SUFFIXES, XML_SUFFIX, expand_folders, has_suffix

TEXT_SUFFIXES = (".gt.txt", ".txt")


@dataclass
class LineSample:
    image: np.ndarray  # grey uint8, model height x width
    text: str
    source: str  # "page.xml#line_id" or the image path


@dataclass
class LineSet:
    samples: list[LineSample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "source: reason"

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.samples]

    @property
    def images(self) -> list[np.ndarray]:
        return [s.image for s in self.samples]

    def extend(self, other: LineSet) -> None:
        self.samples.extend(other.samples)
        self.skipped.extend(other.skipped)

    def fingerprint(self) -> str:
        """A SHA-256 of the lines in order, pixels and texts: equal for the same lines, whatever
        their sources are called."""
        digest = hashlib.sha256()
        for sample in self.samples:
            text = sample.text.encode("utf-8")
            digest.update(np.array([*sample.image.shape, len(text)], dtype=np.int64).tobytes())
            digest.update(np.ascontiguousarray(sample.image, dtype=np.uint8).tobytes())
            digest.update(text)
        return digest.hexdigest()


# How a line is cut from its page (see ``lines_from_page_xml``).
CROP_STYLES = ("polygon", "box", "found", "finder")


def lines_from_page_xml(
    xml_path: Path,
    height: int,
    require_text: bool = True,
    crop: str = "polygon",
    box_margins: tuple[int, int] = (4, 4),
    seed: int = 0,
) -> LineSet:
    """Every line of one ALTO or PAGE file, cut from its page image, one crop style:

    - "polygon": along the line's polygon and baseline (``crop_line``);
    - "box": its bounding rectangle plus a margin drawn from ``box_margins`` (min, max px,
      fixed per line by ``seed``) with the neighbours' ink left in (``crop_box``);
    - "found": the page segmented by mspt's own line finder; each found line that matches a
      ground-truth line (box IoU >= 0.5, one to one) is cut along its own polygon and carries
      that line's text. Unmatched ground-truth lines are counted as skipped;
    - "finder": as mspt reads lines that come with a page (``layout.outline.outlines_to_cut``):
      along the found line in its place where that covers the same stretch of line and is no
      thicker, else (or where that cut fails) along its own polygon; no line is skipped for want
      of a found one, and a line finder that cannot run is an error, not a silent fallback.
    """
    from mspt_core.formats import read_document
    from mspt_core.images import load_grey
    from mspt_core.layout.crop import crop_box, crop_line
    from mspt_core.layout.outline import place_along, reading_outlines

    if crop not in CROP_STYLES:
        raise ValueError(f"crop must be one of {', '.join(CROP_STYLES)}, got {crop!r}")
    page = read_document(xml_path)
    if page.image_path is None:
        raise DataError(f"{xml_path}: the file names no page image")
    image = load_grey(page.image_path)
    lines = list(page.lines())
    cut_along = {i: line for i, line in enumerate(lines)}
    if crop == "found":
        cut_along = _found_counterparts(image, lines)
    elif crop == "finder":
        cut_along = dict(enumerate(reading_outlines(image, lines, strict=True)))
    # Margins differ from page to page and machine to machine alike: seeded by the file's name.
    rng = np.random.default_rng([seed, zlib.crc32(f"{Path(xml_path).parent.name}/{Path(xml_path).name}".encode())])
    result = LineSet()
    for i, line in enumerate(lines):
        source = f"{xml_path}#{line.id}" + ("" if crop == "polygon" else f" ({crop})")
        margin = int(rng.integers(box_margins[0], box_margins[1] + 1))
        text = latin_lookalikes_folded(normalize(line.text))
        if require_text and not text.strip():
            result.skipped.append(f"{source}: no text")
            continue
        if i not in cut_along:
            result.skipped.append(f"{source}: the line finder found no line matching it")
            continue
        try:
            if crop == "box":
                image_line = crop_box(image, line, height, margin)
            elif crop == "finder":
                image_line = place_along(image, line, cut_along[i], height).image
            else:
                image_line = crop_line(image, cut_along[i], height)
        except ValueError as error:
            result.skipped.append(f"{source}: {error}")
            continue
        result.samples.append(LineSample(image_line, text, source))
    return result


def _found_counterparts(image: np.ndarray, lines: list[Line]) -> dict[int, Line]:
    """Ground-truth line index -> the line mspt's segmentation found in its place."""
    from mspt_core.layout import segment
    from mspt_core.layout.outline import found_in_place

    return found_in_place(lines, list(segment(image).lines()), image.shape)


def page_scan_lines(
    path: Path, height: int, skipped: list[str], dpi: float = 300, segmenter: str = "auto"
) -> Iterator[list[LineSample]]:
    """Per page of an image file or PDF (``layout.pages_with_images``: the lines of a PAGE/ALTO
    file beside a single-page image, else found), its lines cut at ``height`` as samples without
    text (source ``path#id``; ``path page N#id`` in a file of several pages). A line that cannot
    be cut goes to ``skipped`` with the reason."""
    from mspt_core import layout
    from mspt_core.layout.crop import crop_line

    found = layout.pages_with_images(path, dpi=dpi, segmenter=segmenter)
    for number, (page, grey) in enumerate(found, 1):
        where = f"{path}" + (f" page {number}" if len(found) > 1 else "")
        samples = []
        for line in page.lines():
            try:
                samples.append(LineSample(crop_line(grey, line, height), "", f"{where}#{line.id}"))
            except ValueError as error:
                skipped.append(f"{where}#{line.id}: {error}")
        yield samples


def _text_for(image_path: Path) -> Path | None:
    stem = image_path.with_suffix("")
    for suffix in TEXT_SUFFIXES:
        candidate = stem.with_name(stem.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def line_from_image(image_path: Path, height: int) -> np.ndarray:
    from mspt_core.images import load_grey

    return to_height(load_grey(image_path), height)


def _ground_truth(text_path: Path) -> str:
    try:
        return text_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:  # one such file usually means all are: say so, do not skip
        raise DataError(f"{text_path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from error


def lines_from_pairs(image_paths: Iterable[Path], height: int) -> LineSet:
    result = LineSet()
    for image_path in image_paths:
        text_path = _text_for(image_path)
        if text_path is None:
            result.skipped.append(f"{image_path}: no .txt or .gt.txt beside it")
            continue
        text = latin_lookalikes_folded(normalize(_ground_truth(text_path).strip("\r\n")))
        if not text.strip():
            result.skipped.append(f"{image_path}: empty text file")
            continue
        try:
            image = line_from_image(image_path, height)
        except MsptError as error:
            result.skipped.append(f"{image_path}: {error}")
            continue
        result.samples.append(LineSample(image, text, str(image_path)))
    return result


def load_lines(paths: Sequence[Path | str], height: int) -> LineSet:
    """Lines from any mix of ALTO/PAGE files, line images with text files, and folders of
    either (searched recursively). Raises DataError when nothing usable is found."""
    xmls: list[Path] = []
    images: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        for file in expand_folders([path]):
            if has_suffix(file, {XML_SUFFIX}):
                xmls.append(file)
            elif has_suffix(file, IMAGE_SUFFIXES) and (path.is_file() or _text_for(file)):
                images.append(file)
    result = LineSet()
    for xml in xmls:
        result.extend(lines_from_page_xml(xml, height))
    result.extend(lines_from_pairs(images, height))
    if not result.samples:
        detail = f" ({len(result.skipped)} lines skipped, e.g. {result.skipped[0]})" if result.skipped else ""
        raise DataError(f"no labelled lines found in {', '.join(map(str, paths))}{detail}")
    return result


# Fewer validation lines than this cannot tell two models apart: one or two lines decide which
# checkpoint is kept and what CER is reported.
MIN_VALIDATION_LINES = 30


def validation_warning(val_set: LineSet | None) -> str | None:
    """Why a validation set is too small to judge a model by, or None when it is large enough."""
    count = len(val_set) if val_set else 0
    if count >= MIN_VALIDATION_LINES:
        return None
    return (
        f"only {count} validation line{'s' if count != 1 else ''}: too few to judge a model by (at least "
        f"{MIN_VALIDATION_LINES} are needed); the model kept and the CER reported will be chance. "
        "Give more validation lines"
    )


def validation_count(lines: int, fraction: float) -> int:
    """How many of ``lines`` ``split_off_validation`` holds out: at least one."""
    return max(1, int(lines * fraction))


def split_off_validation(lines: LineSet, fraction: float, seed: int = 0) -> tuple[LineSet, LineSet]:
    """(train, validation): a random ``fraction`` of the lines held out, fixed by ``seed``."""
    if not 0 < fraction < 1:
        raise DataError("the validation fraction must be between 0 and 1")
    order = np.random.default_rng(seed).permutation(len(lines))
    held = validation_count(len(order), fraction)
    if len(lines) - held < 1:
        raise DataError("too few lines to hold some out for validation; give validation data")
    return (
        LineSet([lines.samples[i] for i in order[held:]], lines.skipped),
        LineSet([lines.samples[i] for i in order[:held]]),
    )
