"""Small shared pieces of the look: confidence colours and numpy → Qt images."""

from __future__ import annotations

import numpy as np
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
