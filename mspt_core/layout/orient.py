"""Which way up a page was scanned: upright, a quarter turned either way, or upside down.

Archives are scanned in a hurry: a letter fed in sideways, a register photographed upside down.
The line finder finds lines on an upside-down page as well as on an upright one (text lines are
bands of ink either way up), so the way up is told by a small network that looks at a few of
the page's line boxes and says whether the letters stand upright (``UprightNet``): each crop is
scored as it is and turned half a turn, and the page is upside down when the turned crops look
upright by a clear margin. It is fitted on the ground-truth lines of the train splits of every
set in ``../shared/data``, print and handwriting, each shown both ways up
(``packaging/orientation``), and ships as a tensors + JSON file beside the line finder.

A page scanned sideways shows the finder columns of letters instead of lines: the lines it
finds are short and squat. Only then is the page searched a
quarter turned as well; it is taken as turned when its lines there are clearly longer, and which
quarter comes from the same network.

``page_turn`` gives ``np.rot90``'s k that rights the page; ``layout.segment`` finds the lines on
the righted page and carries them back, baselines in their reading direction (down, up or
leftward across the page), so crops, word boxes and every export turn them upright again
(``layout.turn``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mspt_core import resources, tensorfile
from mspt_core.document import Line
from mspt_core.errors import ModelFileError
from mspt_core.layout.crop import crop_box

FORMAT = "mspt-upright"
CROP_HEIGHT = 32  # px: line crops are looked at this high
WIDEST = 512  # px: a longer crop is looked at in its middle
BOX_MARGIN = 0.25  # of its thickness: a line is looked at as its box and this much around it
CHANNELS = (16, 32, 64, 64)
LINES_LOOKED_AT = 16  # the longest lines of a page tell its way up; more only cost time
FLIP_MARGIN = 1.0  # mean logit by which the turned crops must look more upright to turn a page
LONG_LINE = 8.0  # a page whose lines are this many times as long as thick at the median reads across
QUARTER_GAIN = 1.5  # a quarter-turned page is taken when its lines are this many times longer
SHORTEST = 2.0  # ... than this at least (a page with no line at all)
FEWEST_LINES = 3  # a page is turned on what this many lines say, at least


class UprightNet(nn.Module):
    """Line crop (batch, 1, 32, W) -> logit that its letters stand upright: four 3x3
    convolutions, three 2x2 poolings, the mean over every position, one linear unit."""

    def __init__(self) -> None:
        super().__init__()
        widths = (1, *CHANNELS)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(widths, widths[1:], strict=False))
        self.out = nn.Linear(CHANNELS[-1], 1)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if i < len(self.convs) - 1:
                x = F.max_pool2d(x, 2)
        if valid is None:
            pooled = x.mean(dim=(2, 3))
        else:  # a padded batch: the mean over each crop's own columns
            columns = torch.arange(x.shape[3], device=x.device)[None, :] < valid[:, None]
            weights = columns[:, None, None, :].float()
            pooled = (x * weights).sum(dim=(2, 3)) / (weights.sum(dim=(2, 3)) * x.shape[2]).clamp(min=1)
        return self.out(pooled).squeeze(1)


def ink_of(crop: np.ndarray) -> np.ndarray:
    """A uint8 line crop as the network's input: ink 1, paper 0, the same whatever the scan's
    brightness and contrast."""
    ink = 1.0 - crop.astype(np.float32) / 255.0
    ink -= np.median(ink)
    return np.clip(ink / max(float(ink.max()), 0.1), 0.0, 1.0)


def batch_of(crops: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops (32 px high) as one zero-padded batch and their widths after the network's poolings."""
    inks = [ink_of(middle(c)) for c in crops]
    width = max(i.shape[1] for i in inks)
    batch = np.zeros((len(inks), 1, CROP_HEIGHT, width), np.float32)
    for n, ink in enumerate(inks):
        batch[n, 0, :, : ink.shape[1]] = ink
    pooled = torch.tensor([max(i.shape[1] // 8, 1) for i in inks])
    return torch.from_numpy(batch), pooled


def middle(crop: np.ndarray, widest: int = WIDEST) -> np.ndarray:
    """The crop, or its middle ``widest`` columns (the way up shows as well there, for less)."""
    if crop.shape[1] <= widest:
        return crop
    start = (crop.shape[1] - widest) // 2
    return crop[:, start : start + widest]


@dataclass
class UprightClassifier:
    """The fitted network with its provenance."""

    net: UprightNet
    metadata: dict = field(default_factory=dict)

    @torch.no_grad()
    def flip_margin(self, crops: Sequence[np.ndarray]) -> float:
        """Mean over the crops of how much more upright each looks as it is than half turned
        (logits): positive for lines the right way up, negative for lines upside down."""
        if not crops:
            return 0.0
        self.net.eval()
        both = [*crops, *(np.ascontiguousarray(np.rot90(c, 2)) for c in crops)]
        x, valid = batch_of(both)
        logits = self.net(x, valid).numpy()
        return float(np.mean(logits[: len(crops)] - logits[len(crops) :]))


def save_upright(path: Path, classifier: UprightClassifier) -> Path:
    meta = dict(classifier.metadata, format=FORMAT, format_version=1, channels=list(CHANNELS), height=CROP_HEIGHT)
    return tensorfile.write(path, classifier.net.state_dict(), {"mspt": meta})


def load_upright(path: Path) -> UprightClassifier:
    """A classifier file, refused (ModelFileError) unless it is one with the layers this mspt builds."""
    path = Path(path)
    file = tensorfile.open_file(path, "orientation classifier")
    meta = file.json("mspt")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an mspt orientation classifier")
    tensorfile.check_format_version(path, meta, 1)
    if meta.get("channels") != list(CHANNELS) or meta.get("height") != CROP_HEIGHT:
        raise ModelFileError(f"{path}: made for other layers ({meta.get('channels')}, height {meta.get('height')})")
    net = UprightNet()
    tensorfile.check_shapes(file, {k: tuple(v.shape) for k, v in net.state_dict().items()}, detail="its layers")
    weights = file.tensors()
    if not all(torch.isfinite(w).all() for w in weights.values()):
        raise ModelFileError(f"{path}: weights that are not finite numbers")
    net.load_state_dict({k: v.float() for k, v in weights.items()})
    net.eval()
    return UprightClassifier(net, meta)


@lru_cache(maxsize=1)
def bundled() -> UprightClassifier | None:
    """The classifier shipped with mspt, or None where it is missing or unreadable (then pages
    are taken as scanned upright; an unreadable file is warned about once)."""
    unusable = "the bundled orientation classifier cannot be used, pages are taken as scanned upright"
    return tensorfile.bundled_or_none(resources.orientation(), load_upright, unusable)


def _length(line: Line) -> float:
    x0, y0, x1, y1 = line.bbox()
    return x1 - x0


def _thickness(line: Line) -> float:
    x0, y0, x1, y1 = line.bbox()
    return max(y1 - y0, 1.0)


def reads_across(lines: Sequence[Line]) -> float:
    """How many times as long as thick the page's lines are, at the median (0 without lines):
    text lines are long; the finder's pieces of a column of letters on a page scanned
    sideways are short."""
    return float(np.median([_length(ln) / _thickness(ln) for ln in lines])) if lines else 0.0


def looked_at(grey: np.ndarray, lines: Sequence[Line]) -> list[np.ndarray]:
    """Crops of the page's longest lines, up to ``LINES_LOOKED_AT`` (a line that cannot be cut
    is left out). Each is its box, not its polygon straightened along its baseline: the finder
    puts the baseline under the letters' body whichever way up they stand, so a straightened
    crop would show upside-down text placed as upright text is, and its box shows it as it is.
    The box is widened by a quarter of its thickness: on a page upside down the finder draws a
    line's box for descenders below the body, and the ascenders hanging there are longer."""
    crops = []
    for line in sorted(lines, key=_length, reverse=True)[:LINES_LOOKED_AT]:
        try:
            crop = crop_box(grey, line, CROP_HEIGHT, round(BOX_MARGIN * _thickness(line)))
        except ValueError:
            continue
        if crop.shape[1] >= CROP_HEIGHT:  # a speck tells nothing (and the network needs 8 columns)
            crops.append(crop)
    return crops


def page_turn(
    grey: np.ndarray,
    lines: Sequence[Line],
    find: Callable[[np.ndarray], list[Line]],
    classifier: UprightClassifier,
) -> int:
    """``np.rot90``'s k that rights the page ``grey`` (0: it is upright), given the lines the
    finder found on it as it is; ``find`` finds lines on an image (for the page a quarter
    turned, asked only when the lines found are short)."""
    k = 0
    if reads_across(lines) < LONG_LINE:
        quarter = np.ascontiguousarray(np.rot90(grey, 1))
        turned = find(quarter)
        # A blank or pictured page gives a blob or two either way: a few lines must say it.
        gain = reads_across(turned) >= QUARTER_GAIN * max(reads_across(lines), SHORTEST)
        if len(turned) >= FEWEST_LINES and gain:
            grey, lines, k = quarter, turned, 1
    crops = looked_at(grey, lines)
    if len(crops) >= FEWEST_LINES and classifier.flip_margin(crops) < -FLIP_MARGIN:
        k += 2
    return k % 4
