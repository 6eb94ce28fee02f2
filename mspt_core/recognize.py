"""Reading line images with a recognizer: batched by width, under ``torch.inference_mode``,
greedy CTC (default) or CTC beam search, or the autoregressive decoder head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from mspt_core import decode
from mspt_core.data.batching import collate, to_height, width_batches
from mspt_core.devices import pick_device
from mspt_core.errors import ModelFileError
from mspt_core.model.config import DOWNSAMPLE
from mspt_core.models import LoadedModel, load_model, resolve

# Pixels per batch at model height: keeps memory flat whatever the line lengths.
BATCH_PIXELS = 40 * 2048 * 32


@dataclass
class Reading:
    text: str
    char_confidences: list[float]  # one per character of text
    char_x: list[float]  # x of each character in the model-height line image, pixels (CTC only)

    @property
    def confidence(self) -> float:
        return min(self.char_confidences, default=1.0)


class LineRecognizer:
    def __init__(self, loaded: LoadedModel, device: str = "auto", batch_size: int = 32,
                 beam: int = 0, head: str | None = None):
        if loaded.metadata.get("kind", "recognizer") != "recognizer":
            raise ModelFileError(f"{loaded.metadata.get('name', 'this model')} is a pre-trained encoder, which "
                                 "cannot read text yet; fine-tune it first (mspt finetune)")
        self.device = pick_device(device)
        self.model = loaded.model.to(self.device).eval()
        self.charset = loaded.charset
        self.metadata = loaded.metadata
        self.height = loaded.config.height
        self.batch_size = batch_size
        self.beam = beam
        self.head = head or loaded.config.head
        if self.head == "decoder" and self.model.decoder is None:
            raise ValueError("this model has no decoder head; use head='ctc'")

    @classmethod
    def from_model(cls, name_or_path: str | None = None, device: str = "auto", **kwargs) -> "LineRecognizer":
        """Load a model by registry name or path (None: the default model) and wrap it."""
        return cls(load_model(resolve(name_or_path)), device=device, **kwargs)

    def read(self, images: Sequence[np.ndarray]) -> list[Reading]:
        """Texts of grey uint8 line images (any height), in input order."""
        lines = [to_height(img, self.height) for img in images]
        readings: list[Reading | None] = [None] * len(lines)
        widths = [img.shape[1] for img in lines]
        with torch.inference_mode():
            for batch in width_batches(widths, self.batch_size, max_pixels=BATCH_PIXELS // 40 * self.height):
                for index, reading in zip(batch, self._read_batch([lines[i] for i in batch])):
                    readings[index] = reading
        return readings  # type: ignore[return-value]

    def _read_batch(self, lines: list[np.ndarray]) -> list[Reading]:
        images, widths = collate(lines)
        images, widths = images.to(self.device), widths.to(self.device)
        encoded, pad_mask = self.model.encoder(images, widths)
        if self.head == "decoder":
            ids, confs = self.model.decoder.greedy(encoded, pad_mask)
            return [Reading(self.charset.decode(i), c, []) for i, c in zip(ids, confs)]
        log_probs = self.model.ctc(encoded).cpu().numpy()
        lengths = (~pad_mask).sum(1).tolist()
        readings = []
        for row, length in zip(log_probs, lengths):
            found = decode.beam_search(row[:length], self.beam) if self.beam > 1 else decode.greedy(row[:length])
            text = self.charset.decode(found.ids)
            x = [(p + 0.5) * DOWNSAMPLE for p in found.positions]
            readings.append(Reading(text, found.confidences, x))
        return readings
