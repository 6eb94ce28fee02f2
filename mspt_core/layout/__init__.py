"""From page scans to text lines: cleaning, deskew, segmentation, reading order, line crops.

Every step is a plain function on numpy arrays (see the submodules); ``page_lines`` is the one
call the CLI and the app use: ground-truth lines when the page has them, else segmentation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mspt_core.document import Page, protect_foreign_text, set_found_metadata
from mspt_core.inputs import PDF_SUFFIX, has_suffix
from mspt_core.layout.clean import normalize_illumination, remove_noise, sauvola, to_grey
from mspt_core.layout.crop import crop_line
from mspt_core.layout.deskew import deskew, estimate_skew, rotate
from mspt_core.layout.order import order_regions, xy_cut_order
from mspt_core.layout.segment import SegmentParams, segment

__all__ = [
    "to_grey",
    "normalize_illumination",
    "sauvola",
    "remove_noise",
    "estimate_skew",
    "rotate",
    "deskew",
    "segment",
    "SegmentParams",
    "order_regions",
    "xy_cut_order",
    "crop_line",
    "find_ground_truth",
    "page_lines",
    "pages_with_images",
]


def find_ground_truth(image_path: str | Path) -> Path | None:
    """A PAGE/ALTO file beside the image (``scan.jpg`` -> ``scan.xml`` or ``page/scan.xml``, as
    eScriptorium and Transkribus exports are laid out: ``inputs.ground_truth_candidates``), if it
    holds at least one line."""
    from mspt_core.errors import FormatError
    from mspt_core.formats import read_document
    from mspt_core.inputs import ground_truth_candidates

    for candidate in ground_truth_candidates(Path(image_path)):
        if candidate.is_file():
            try:
                if any(True for _ in read_document(candidate).lines()):
                    return candidate
            except FormatError:
                continue
    return None


def pages_with_images(
    image_path: str | Path,
    *,
    use_ground_truth: bool = True,
    rtl: bool = False,
    dpi: float = 300,
    segmenter: str = "auto",
) -> list[tuple[Page, np.ndarray]]:
    """The pages of an image file or PDF with their regions and lines, each with its grey image
    (loaded once, for segmentation and then for line crops).

    When ``use_ground_truth`` and a PAGE/ALTO file with lines sits beside a single-page image,
    its lines are used as they are (``metadata["segmentation"] == "ground truth"``), and text
    they hold from another tool counts as corrected; otherwise each page is segmented with
    ``segmenter`` ("auto", "learned" or "classical", see ``segment``).
    """
    from mspt_core.formats import read_document
    from mspt_core.images import load_grey, load_pages

    image_path = Path(image_path).resolve()
    if use_ground_truth and not has_suffix(image_path, {PDF_SUFFIX}):
        gt = find_ground_truth(image_path)
        if gt is not None:
            page = read_document(gt)
            page.image_path = image_path
            # what an earlier segmentation said (a file mspt wrote) no longer holds
            set_found_metadata(page, {"segmentation": "ground truth"})
            protect_foreign_text(page)
            return [(page, load_grey(image_path, dpi=dpi))]
    pages = []
    for index, image in enumerate(load_pages(image_path, dpi=dpi)):
        grey = to_grey(image)
        page = segment(grey, rtl=rtl, method=segmenter)
        page.image_path = image_path
        page.image_index = index
        page.id = f"page{index + 1}"
        pages.append((page, grey))
    return pages


def page_lines(
    image_path: str | Path,
    *,
    use_ground_truth: bool = True,
    rtl: bool = False,
    dpi: float = 300,
    segmenter: str = "auto",
) -> list[Page]:
    """Like ``pages_with_images``, without the images."""
    return [
        page
        for page, _ in pages_with_images(
            image_path, use_ground_truth=use_ground_truth, rtl=rtl, dpi=dpi, segmenter=segmenter
        )
    ]
