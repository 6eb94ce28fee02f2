"""Reading line images with a recognizer: batched by width, under ``torch.inference_mode``,
greedy CTC (default) or CTC beam search, or the autoregressive decoder head. A model whose file
names a character language model (``"language_model"``: a bundled one and its fusion settings)
is read by beam search with it (``charlm``), unless the caller turns it off.

On a CPU the CTC path runs in ONNX Runtime where it can (``engine="auto"``; see
``onnx_engine``), which is faster than PyTorch eager for the same text; PyTorch is the
fallback and reads on GPUs and with the decoder head. ``$MSPT_ENGINE`` sets the default."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import torch

from mspt_core import charlm, choose, decode, onnx_engine
from mspt_core.charset import latin_lookalikes_folded
from mspt_core.choose import ChoosingReader
from mspt_core.data.batching import collate, to_height, width_batches
from mspt_core.decode import Decoded
from mspt_core.devices import pick_device
from mspt_core.engines import ENGINES
from mspt_core.errors import ModelFileError
from mspt_core.layout.crop import paper_level
from mspt_core.model.config import LINE_HEIGHT
from mspt_core.models import DEFAULT_MODEL, LoadedModel, load_model, resolve

T = TypeVar("T")

# Pixels per batch at model height: keeps memory flat whatever the line lengths.
BATCH_PIXELS = LINE_HEIGHT * 2048 * 32

# Paper added at both ends of every line before it is read, as a share of the model's height:
# what the bundled models are shipped with (packaging/ship_model.py writes it into their file as
# "end_margin"; a fine-tuned model inherits its base's). A line cut at its first and last inked
# column otherwise loses a mark at its very edge, such as an opening quotation mark (the training
# crops mostly had some paper there); on val it also helped box crops and handwriting
# (benchmarks/RESULTS.md). A file without "end_margin" reads without one, as every model did.
END_MARGIN = 0.1

# Lines are read stretched across by the share their model's file says ("width_scale"; 1 where
# it says none, as every model read before): the bundled handwriting model reads its val lines
# better a little wider than cut, more CTC frames to a narrow handwritten letter
# (packaging/default_model/reading_settings.py chooses it; benchmarks/RESULTS.md). A fine-tuned
# model inherits its base's.
WIDTH_SCALES = (0.5, 2.0)  # the range a model file may ask for

# A CTC model may also read each line moved up and down by a share of its height ("shifted_reads";
# 0 where its file says none), its three CTC outputs averaged before decoding: where a line sits
# in its crop changes what the network sees of a tall handwritten letter, and on val the average
# read handwriting better than any one position. Only lines read unsurely the first time are
# read again so where the file says a bound ("shifted_reads_below": the mean probability of the
# frames that read a character; every line where it says none): clean print, read surely, costs
# one pass (packaging/default_model/reading_settings.py chooses both; benchmarks/RESULTS.md). A
# fine-tuned model inherits its base's.
SHIFTED_READS = (0.0, 0.25)  # the range a model file may ask for
SHIFTED_READS_BELOW = (0.0, 1.0)  # a frame confidence

# The lines read again so may also be read with their slant straightened ("deslanted_reads": the
# largest shear tried, 0 where the file says none; ``deslanted``), moved up and down as well, and
# the reading whose own input explains it better (``decode.search_score``: about what the search
# ranks readings by) is kept: for some lines of a leaning hand the upright read is right, for
# others the first. Averaging the two outputs instead gained an eighth as much on val (a sheared
# line's frames do not fall on the same letters); packaging/default_model/reading_settings.py
# chooses the value (benchmarks/RESULTS.md). A fine-tuned model inherits it.
# the range a model file may ask for: shear, columns per row of the line as read (widened by
# its width_scale), 1 being 45 degrees there
DESLANTED_READS = (0.0, 1.0)
SLANT_STEP = 0.1  # the shears tried, from -most to +most

# What a model file says of how its lines are read: the settings chosen for each model on val
# (packaging/default_model/reading_settings.py; packaging/ship_model.py ships a model without
# them), and all of them, which a model fine-tuned from it inherits.
CHOSEN_READING = ("width_scale", "shifted_reads", "shifted_reads_below", "deslanted_reads")
READING_SETTINGS = ("end_margin", *CHOSEN_READING)


@dataclass
class Reading:
    text: str
    char_confidences: list[float]  # one per character of text
    char_x: list[float]  # x of each character in the model-height line image, pixels (CTC only)
    # For a reading without characters: how sure the model is that nothing is written there
    # (``empty_confidence``; CTC readings only). Low where it saw marks it then read as no text.
    nothing_confidence: float = 1.0

    @property
    def confidence(self) -> float:
        return min(self.char_confidences, default=self.nothing_confidence)


log = logging.getLogger(__name__)


class LineRecognizer:
    """``engine``: "auto" (ONNX Runtime for CTC on a CPU when available, int8 where the model's
    metadata allows it, else PyTorch), "torch", "onnx" or "onnx-int8" (fall back to PyTorch,
    with a logged reason, when ONNX Runtime cannot be used). ``threads``: the lines ONNX
    Runtime reads at once, each on one thread (default: torch's threads). ``language_model``:
    read with the language model the model's file names, if any (False: without; a named one
    that is not installed is logged and left out). ``batch_size``: lines per batch (ONNX
    Runtime runs each line of a batch on its own: ``onnx_engine.OnnxCTC``)."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: str = "auto",
        batch_size: int = 32,
        beam: int = 0,
        head: str | None = None,
        engine: str | None = None,
        threads: int | None = None,
        language_model: bool = True,
    ):
        if loaded.metadata.get("kind", "recognizer") != "recognizer":
            raise ModelFileError(
                f"{loaded.metadata.get('name', 'this model')} is a pre-trained encoder, which "
                "cannot read text yet; fine-tune it first (mspt finetune)"
            )
        self.device = pick_device(device)
        self.model = loaded.model.to(self.device).eval()
        self.charset = loaded.charset
        self.metadata = loaded.metadata
        self.height = loaded.config.height
        self.batch_size = batch_size
        self.beam = beam
        self.head = head or loaded.config.head
        if self.head == "decoder" and self.model.decoder is None:
            raise ValueError("this model has no decoder head; read it with the CTC head (--head ctc)")
        if engine is None:
            engine = os.environ.get("MSPT_ENGINE", "auto")
            if engine not in ENGINES:
                raise ModelFileError(f"MSPT_ENGINE={engine}: must be one of {', '.join(ENGINES)}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if engine == "auto":
            # int8 where the model's file says it reads within 0.05 CER points of fp32 (ship_model.py
            # measures that on validation lines), else fp32.
            int8 = bool(self.metadata.get("inference", {}).get("int8"))
            engine = ("onnx-int8" if int8 else "onnx") if onnx_engine.available() else "torch"
        self.onnx: onnx_engine.OnnxCTC | None = None
        if engine != "torch" and self.device.type == "cpu" and self.head == "ctc":
            try:
                self.onnx = onnx_engine.OnnxCTC(self.model, threads, int8=engine == "onnx-int8")
            except onnx_engine.UnavailableError as error:
                log.warning("reading with PyTorch: %s", error)
        self.engine = engine if self.onnx else "torch"
        fused = charlm.for_model(loaded.metadata) if language_model and self.head == "ctc" else None
        self.lm: charlm.CharLM | None = fused[0] if fused else None
        self.fusion: charlm.Fusion | None = fused[1] if fused else None
        self.labels = [self.charset.decode([i]) for i in range(len(self.charset))]
        self.end_margin = end_margin(loaded.metadata)
        self._margin = end_margin_pixels(loaded.metadata, self.height)
        self.width_scale = width_scale(loaded.metadata)
        self.shift = round(shifted_reads(loaded.metadata) * self.height) if self.head == "ctc" else 0
        self.shift_below = shifted_reads_below(loaded.metadata)
        self.deslant = deslanted_reads(loaded.metadata) if self.head == "ctc" else 0.0

    @classmethod
    def from_model(cls, name_or_path: str | None = None, device: str = "auto", **kwargs) -> LineRecognizer:
        """Load a model by registry name or path (None: the default model) and wrap it."""
        return cls(load_model(resolve(name_or_path)), device=device, **kwargs)

    def read(self, images: Sequence[np.ndarray]) -> list[Reading]:
        """Texts of grey uint8 line images (any height), in input order."""
        return self._batched(images, self._read_batch)

    def ctc_log_probs(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each line's CTC log-probabilities (tokens x classes), what ``decode`` reads: a caller
        can look at them (the ``auto`` reader's classifier) before paying for the decoding (except
        for the lines a model that reads upright too, ``deslanted_reads``, decodes here to choose
        between its two reads of them)."""
        return self._batched(images, lambda lines: self._rows_and_readings(lines)[0])

    def _batched(self, images: Sequence[np.ndarray], run: Callable[[list[np.ndarray]], list[T]]) -> list[T]:
        lines = [
            with_end_margins(widened(to_height(img, self.height), self.width_scale), self._margin) for img in images
        ]
        results: list[T | None] = [None] * len(lines)
        widths = [img.shape[1] for img in lines]
        with torch.inference_mode():
            for batch in width_batches(widths, self.batch_size, max_pixels=BATCH_PIXELS // LINE_HEIGHT * self.height):
                for index, result in zip(batch, run([lines[i] for i in batch]), strict=True):
                    results[index] = result
        return results  # type: ignore[return-value]

    def _read_batch(self, lines: list[np.ndarray]) -> list[Reading]:
        if self.head == "decoder":
            assert self.model.decoder is not None  # a decoder-head model has one
            images, widths = collate(lines)
            encoded, pad_mask = self.model.encoder(images.to(self.device), widths.to(self.device))
            ids, confs = self.model.decoder.greedy(encoded, pad_mask)
            return [Reading(self.text_of(i), c, []) for i, c in zip(ids, confs, strict=True)]
        rows, readings = self._rows_and_readings(lines)
        return [
            self._reading(row, self._search(row)) if reading is None else reading
            for row, reading in zip(rows, readings, strict=True)
        ]

    def _rows_and_readings(self, lines: list[np.ndarray]) -> tuple[list[np.ndarray], list[Reading | None]]:
        """Each line's CTC log-probabilities as read (moved up and down, or straightened, where
        its file says so: see SHIFTED_READS, DESLANTED_READS), and its reading where choosing
        the rows decoded it already (else None)."""
        log_probs, lengths = self._ctc_batch(lines)
        rows = [row[:n] for row, n in zip(log_probs, lengths, strict=True)]
        readings: list[Reading | None] = [None] * len(rows)
        if not (self.shift or self.deslant):
            return rows, readings
        below = self.shift_below
        again = [i for i, row in enumerate(rows) if below is None or frame_confidence(row) < below]
        if not again:
            return rows, readings
        for i, row in zip(again, self._shifted([lines[i] for i in again], [rows[i] for i in again]), strict=True):
            rows[i] = row
        if not self.deslant:
            return rows, readings
        # The lines that lean are read again sheared upright; one upright already would only tie.
        straight = {i: deslanted(lines[i], self.deslant) for i in again}
        leaning = [i for i in again if straight[i] is not lines[i]]
        if not leaning:
            return rows, readings
        first, _ = self._ctc_batch([straight[i] for i in leaning])  # the same widths, so the same tokens
        upright_rows = self._shifted(
            [straight[i] for i in leaning], [first[k, : len(rows[i])] for k, i in enumerate(leaning)]
        )
        for i, upright_row in zip(leaning, upright_rows, strict=True):
            as_cut_found, upright_found = self._search(rows[i]), self._search(upright_row)
            # (an upright reading's character positions are exact on the middle row, the shear's axis)
            if self._score(upright_row, upright_found) > self._score(rows[i], as_cut_found):
                rows[i], readings[i] = upright_row, self._reading(upright_row, upright_found)
            else:
                readings[i] = self._reading(rows[i], as_cut_found)
        return rows, readings

    def _shifted(self, lines: list[np.ndarray], rows: list[np.ndarray]) -> list[np.ndarray]:
        """``rows`` (of ``lines`` as given) averaged frame by frame with the lines' CTC outputs
        moved up and down by ``shift`` (the same widths, so the same frames); as given if none."""
        if not self.shift:
            return rows
        up, _ = self._ctc_batch([moved(line, -self.shift) for line in lines])
        down, _ = self._ctc_batch([moved(line, self.shift) for line in lines])
        return [
            np.logaddexp.reduce(np.stack([row, up[k, : len(row)], down[k, : len(row)]]), axis=0) - np.log(3.0)
            for k, row in enumerate(rows)
        ]

    def _ctc_batch(self, lines: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
        """The batch's CTC log-probabilities (batch x tokens x classes) and each line's tokens."""
        images, widths = collate(lines)
        if self.onnx is not None:
            try:
                log_probs, frames = self.onnx(images.numpy(), widths.numpy())
                return log_probs, frames.tolist()
            except Exception as error:  # ONNX Runtime failed on this batch: PyTorch reads from here on
                log.warning("reading with PyTorch: ONNX Runtime failed: %s", error)
                self.onnx, self.engine = None, "torch"
        encoded, pad_mask = self.model.encoder(images.to(self.device), widths.to(self.device))
        return self.model.ctc(encoded).cpu().numpy(), self.model.ctc.frame_lengths(pad_mask).tolist()

    def decode(self, log_probs: Sequence[np.ndarray]) -> list[Reading]:
        """Readings of lines' CTC log-probabilities (``ctc_log_probs``): with the model's language
        model where it has one, else by beam search when ``beam`` > 1, else greedily."""
        return [self._reading(row, self._search(row)) for row in log_probs]

    def _search(self, row: np.ndarray) -> Decoded:
        if all_blank(row):
            # Blank in every frame: nothing written there (paper, a speck). A search would
            # still find what the language model likes best among unlikely readings.
            return Decoded([], [], [])
        if self.lm is not None and self.fusion is not None:
            beam = max(self.beam, self.fusion.beam)
            return decode.beam_search(row, beam, self.fusion.prune, self.lm, self.labels, self.fusion)
        if self.beam > 1:
            return decode.beam_search(row, self.beam)
        return decode.greedy(row)

    def _score(self, row: np.ndarray, found: Decoded) -> float:
        """How well ``row`` explains its reading ``found``, as the search ranks readings."""
        return decode.search_score(row, found.ids, self.lm, self.labels, self.fusion)

    def _reading(self, row: np.ndarray, found: Decoded) -> Reading:
        stride = self.model.config.frame_stride
        ids, confidences, positions = self._single_spaced(found)
        # Positions in the line as given (at model height), without the margins and the
        # widening ``_batched`` added.
        width = max(len(row) * stride - 2 * self._margin, 0)
        char_x = [min(max((p + 0.5) * stride - self._margin, 0.0), width) / self.width_scale for p in positions]
        return Reading(self.text_of(ids), confidences, char_x, 1.0 if ids else empty_confidence(row))

    def text_of(self, ids: Sequence[int]) -> str:
        """The text of character ids as a reader hands it out: Cyrillic or Greek lookalikes that a
        model learned from faulty ground truth are written as the Latin letters of the word."""
        return latin_lookalikes_folded(self.charset.decode(ids))

    def _single_spaced(self, found: Decoded) -> tuple[list[int], list[float], list[int]]:
        """``found`` without spaces at its ends and with one space between words: a space read
        at a line's edge (from a speck or a neighbour's ink) is no text, and a run of them is one
        word break (which every output format writes as one); a run keeps its least sure."""
        ids: list[int] = []
        confidences: list[float] = []
        positions: list[int] = []
        for cls, confidence, position in zip(found.ids, found.confidences, found.positions, strict=True):
            space = self.labels[cls].isspace()
            if space and (not ids or self.labels[ids[-1]].isspace()):
                if ids:
                    confidences[-1] = min(confidences[-1], confidence)
                continue
            ids.append(cls)
            confidences.append(confidence)
            positions.append(position)
        if ids and self.labels[ids[-1]].isspace():
            del ids[-1], confidences[-1], positions[-1]
        return ids, confidences, positions


def with_end_margins(line: np.ndarray, pixels: int) -> np.ndarray:
    """``line`` with ``pixels`` columns of its own paper colour added at both ends."""
    if not pixels or not line.size:
        return line
    return np.pad(line, ((0, 0), (pixels, pixels)), constant_values=paper_level(line))


def _reading_setting(metadata: dict, key: str, default: float, bounds: tuple[float, float]) -> float:
    """A number a model's file says of how its lines are read (``default`` where it says none),
    refused outside ``bounds``."""
    value = metadata.get(key, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ModelFileError(f"{key} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def end_margin(metadata: dict) -> float:
    """The paper a model's file says its lines are read with at each end (share of the height)."""
    return _reading_setting(metadata, "end_margin", 0.0, (0.0, 1.0))


def width_scale(metadata: dict) -> float:
    """How much wider than cut a model's file says its lines are read (1: as cut)."""
    return _reading_setting(metadata, "width_scale", 1.0, WIDTH_SCALES)


def widened(line: np.ndarray, scale: float) -> np.ndarray:
    """``line`` stretched across by ``scale`` (its height kept). Not squeezed back under
    ``MAX_WIDTH``: ``char_x`` is divided by the whole scale, and batches are bounded by pixels."""
    if scale == 1.0 or not line.size:
        return line
    width = max(1, round(line.shape[1] * scale))
    return cv2.resize(line, (width, line.shape[0]), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def shifted_reads(metadata: dict) -> float:
    """How far up and down a model's file says each line is also read (share of the height; 0:
    once, where it sits)."""
    return _reading_setting(metadata, "shifted_reads", 0.0, SHIFTED_READS)


def shifted_reads_below(metadata: dict) -> float | None:
    """The ``frame_confidence`` under which a model's file says a line is read shifted too (None:
    every line)."""
    if metadata.get("shifted_reads_below") is None:
        return None
    return _reading_setting(metadata, "shifted_reads_below", 1.0, SHIFTED_READS_BELOW)


def deslanted_reads(metadata: dict) -> float:
    """The largest shear a model's file says its unsure lines are also read straightened by (0:
    none)."""
    return _reading_setting(metadata, "deslanted_reads", 0.0, DESLANTED_READS)


def slant(line: np.ndarray, most: float) -> float:
    """The shear (columns per row, about the middle row) that stands ``line``'s writing upright:
    of those from -``most`` to ``most`` by SLANT_STEP, the one whose columns hold its ink most
    unevenly (the sum of squared column sums: upright strokes fall into few columns; a plain
    projection-profile measure, without Vinciarelli & Luettin's (2001) rule of counting only
    columns of one unbroken stroke). 0 for a blank line or ``most`` 0. The hands in our sets
    mostly lean further than the bundled handwriting model's 0.4, so most of their lines take
    all of it."""
    steps = int(round(most / SLANT_STEP))
    if not line.size or steps <= 0:
        return 0.0
    paper = paper_level(line)
    grey = line.astype(np.float32)
    ink = np.float32(paper) - grey if paper > 127 else grey
    ink = np.clip(ink - np.median(ink), 0, None)  # the paper's own texture counts for nothing
    if not ink.any():
        return 0.0
    shears = [k * SLANT_STEP for k in range(-steps, steps + 1)]
    spread = [float(np.square(_sheared(ink, shear, 0.0).sum(axis=0)).sum()) for shear in shears]
    return shears[int(np.argmax(spread))]


def deslanted(line: np.ndarray, most: float) -> np.ndarray:
    """``line`` sheared upright (``slant``), its width kept, the paper it leaves the line's paper
    colour; ``line`` itself where it stands upright already."""
    shear = slant(line, most)
    return _sheared(line, shear, float(paper_level(line))) if shear else line


def _sheared(image: np.ndarray, shear: float, fill: float) -> np.ndarray:
    """Each row of ``image`` moved right by ``shear`` x its distance below the middle row (left
    above it)."""
    height, width = image.shape
    matrix = np.array([[1, shear, -shear * (height - 1) / 2], [0, 1, 0]], dtype=np.float32)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=fill)


def frame_confidence(log_probs: np.ndarray) -> float:
    """How sure a line's CTC output is: the mean best probability of the frames whose best class
    is a character, not blank (1 where none is: nothing to doubt)."""
    best = log_probs.max(axis=1)[log_probs.argmax(axis=1) != 0]
    return float(np.exp(best).mean()) if len(best) else 1.0


def all_blank(log_probs: np.ndarray) -> bool:
    """Whether blank is the best class of every frame (or there are none): nothing written."""
    return not len(log_probs) or bool((log_probs.argmax(axis=1) == 0).all())


def empty_confidence(log_probs: np.ndarray) -> float:
    """How sure a line's CTC output is that the line holds no text: the blank's probability in
    the frame where it is lowest where some frame's best class is a character or a space (a
    search may still read no text there: the language model found the marks no likely text), 1
    where blank is every frame's best (paper, a speck: nothing to doubt)."""
    return 1.0 if all_blank(log_probs) else float(np.exp(log_probs[:, 0].min()))


def moved(line: np.ndarray, pixels: int) -> np.ndarray:
    """``line`` moved down by ``pixels`` (up where negative), the rows it leaves its paper colour."""
    if not pixels or not line.size:
        return line
    out = np.full_like(line, paper_level(line))
    if pixels > 0:
        out[pixels:] = line[:-pixels]
    else:
        out[:pixels] = line[-pixels:]
    return out


def end_margin_pixels(metadata: dict, height: int) -> int:
    """``end_margin`` in pixels of a line ``height`` high: what reading and training add."""
    return round(end_margin(metadata) * height)


def open_reader(name_or_path: str | None = None, device: str = "auto", **options) -> LineRecognizer | ChoosingReader:
    """What reads lines when a model is named by a person (CLI ``--model``, the app's model
    list): ``auto`` (``choose``: print and handwriting, line by line), a registry name or a path.
    None means ``choose.reader_name(None)``: ``auto`` where its bundled pieces are there, else the
    default model; an ``auto`` nobody named that cannot be built falls back to the default model."""
    name = choose.reader_name(name_or_path)
    if name == choose.AUTO:
        try:
            return choose.choosing_reader(device, **options)
        except ModelFileError as error:
            if name_or_path:
                raise
            log.warning("reading with the default model: the automatic reader cannot be used: %s", error)
            name = DEFAULT_MODEL
    return LineRecognizer.from_model(name, device=device, **options)
