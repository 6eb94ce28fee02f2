"""Small shared pieces of the look: confidence colours, numpy → Qt images, durations, what a
line's SegmOnto kind is called."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QColor, QImage, QPixmap

from mspt_core.document import Line, LineStatus

CORRECTED = QColor(40, 110, 230)
UNREAD = QColor(130, 130, 130)
LOW_CHAR_BACKGROUND = QColor(255, 214, 140)


def confidence_colour(confidence: float | None) -> QColor:
    """Red (unsure) through orange and yellow to green (sure)."""
    if confidence is None:
        return UNREAD
    c = min(max(confidence, 0.0), 1.0)
    return QColor.fromHsvF(0.33 * c * c, 0.85, 0.85)  # squared: most readings sit near 1


def line_colour(line: Line) -> QColor:
    if line.status == LineStatus.CORRECTED:
        return CORRECTED
    if line.status == LineStatus.UNRECOGNIZED:
        return UNREAD
    return confidence_colour(line.confidence)


def grey_pixmap(grey: np.ndarray) -> QPixmap:
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    height, width = grey.shape
    image = QImage(grey.data, width, height, grey.strides[0], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(image.copy())  # copy: the numpy buffer may go away


def duration_text(seconds: float | None) -> str:
    """A time a person reads at a glance: "40 s", "12 min", "1 h 05 min"; "—" when unknown."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds + 0.5))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


def kind_label(line_type: str | None, region_type: str | None) -> str | None:
    """What a person calls a line of this SegmOnto line type in a region of this zone type, or
    None for plain text (subtypes such as ``NumberingZone:page`` count as their type)."""
    zone = {
        "NumberingZone": QCoreApplication.translate("kinds", "Page number"),
        "MarginTextZone": QCoreApplication.translate("kinds", "Marginal note"),
        "RunningTitleZone": QCoreApplication.translate("kinds", "Running title"),
    }.get((region_type or "").partition(":")[0])
    line = {
        "HeadingLine": QCoreApplication.translate("kinds", "Heading"),
        "InterlinearLine": QCoreApplication.translate("kinds", "Interlinear addition"),
        "DropCapitalLine": QCoreApplication.translate("kinds", "Drop capital"),
    }.get((line_type or "").partition(":")[0])
    return " · ".join(label for label in (zone, line) if label) or None
