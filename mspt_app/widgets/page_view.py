"""The scan with its lines drawn over it: zoom with the wheel, pan by dragging, click a line.

Three modes: "select" (click a line, drag to pan), "points" (the selected line's polygon
points can be dragged) and "draw" (drag a box to add a line). The view changes nothing
itself; it emits what the person did and the window applies it through the Editor.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
)

from mspt_app.widgets.look import kind_label, line_colour
from mspt_core.document import Line, Page

CLICK_SLOP = 4  # pixels the mouse may move between press and release and still count as a click
HANDLE_SIZE = 9


class LineItem(QGraphicsPolygonItem):
    """A line's polygon, with its baseline drawn inside it (a child item, so it moves along)."""

    def __init__(self, line: Line):
        super().__init__(QPolygonF([QPointF(x, y) for x, y in line.polygon]))
        self.line_id = line.id
        self.selected = False
        self.baseline: QGraphicsPathItem | None = None
        if len(line.baseline) >= 2:
            path = QPainterPath(QPointF(*line.baseline[0]))
            for x, y in line.baseline[1:]:
                path.lineTo(QPointF(x, y))
            self.baseline = QGraphicsPathItem(path, self)
        self.restyle(line)

    def restyle(self, line: Line, selected: bool | None = None) -> None:
        if selected is not None:
            self.selected = selected
        colour = line_colour(line)
        pen = QPen(colour, 3 if self.selected else 1.5)
        pen.setCosmetic(True)  # same thickness at every zoom
        self.setPen(pen)
        fill = QColor(colour)
        fill.setAlpha(90 if self.selected else 35)
        self.setBrush(QBrush(fill))
        self.setZValue(2 if self.selected else 1)
        if self.baseline is not None:
            line_pen = QPen(colour.darker(150), 2 if self.selected else 1)
            line_pen.setCosmetic(True)
            self.baseline.setPen(line_pen)


class Handle(QGraphicsRectItem):
    """One draggable polygon point of the selected line."""

    def __init__(self, view: PageView, index: int, point: QPointF):
        half = HANDLE_SIZE / 2
        super().__init__(-half, -half, HANDLE_SIZE, HANDLE_SIZE)
        self.view, self.index = view, index
        self.setPos(point)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)  # constant size on screen
        self.setBrush(QBrush(QColor(255, 255, 255)))
        self.setPen(QPen(QColor(20, 20, 20)))
        self.setZValue(5)
        self.setCursor(Qt.CursorShape.SizeAllCursor)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        self.view.handle_released(self)


class PageView(QGraphicsView):
    lineClicked = Signal(str)
    boxDrawn = Signal(list)  # polygon in image pixels
    polygonEdited = Signal(str, list)  # line id, new polygon

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setBackgroundBrush(QColor(60, 60, 60))
        self.mode = "select"
        self.line_items: dict[str, LineItem] = {}
        self.handles: list[Handle] = []
        self.selected: str | None = None
        self._press: QPointF | None = None
        self._rubber: QGraphicsRectItem | None = None
        self._lines: dict[str, Line] = {}

    # --- content ------------------------------------------------------------------------------

    def set_page(self, page: Page | None, pixmap: QPixmap | None, keep_view: bool = False) -> None:
        """Show a page; ``keep_view`` keeps zoom and position (after an edit on the same page)."""
        self.scene().clear()
        self.line_items.clear()
        self.handles.clear()
        self._lines.clear()
        self._rubber = None
        if page is None or pixmap is None:
            return
        self.scene().addItem(QGraphicsPixmapItem(pixmap))
        self.scene().setSceneRect(QRectF(pixmap.rect()))
        for line, region in page.lines_with_regions():
            if len(line.polygon) >= 3:
                self._lines[line.id] = line
                self.line_items[line.id] = item = LineItem(line)
                item.setToolTip(kind_label(line.line_type, region.region_type) or "")
                self.scene().addItem(item)
        if self.selected in self.line_items:
            self.select_line(self.selected, center=False)
        else:
            self.selected = None
        if not keep_view:
            self.fit()

    def update_line(self, line: Line) -> None:
        item = self.line_items.get(line.id)
        if item is not None:
            self._lines[line.id] = line
            item.restyle(line)

    def select_line(self, line_id: str | None, center: bool = True) -> None:
        if self.selected in self.line_items:
            self.line_items[self.selected].restyle(self._lines[self.selected], selected=False)
        self.selected = line_id
        self._clear_handles()
        item = self.line_items.get(line_id) if line_id else None
        if item is None or line_id is None:
            return
        item.restyle(self._lines[line_id], selected=True)
        if center:
            self.ensureVisible(item, 40, 40)
        if self.mode == "points":
            self._show_handles(item)

    # --- zoom ---------------------------------------------------------------------------------

    def fit(self) -> None:
        rect = self.scene().sceneRect()
        if not rect.isEmpty():
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom_by(self, factor: float) -> None:
        scale = self.transform().m11()
        factor = min(max(factor, 0.02 / scale), 20 / scale)  # stay between 2 % and 2000 %
        self.scale(factor, factor)

    def wheelEvent(self, event) -> None:
        self.zoom_by(1.0015 ** event.angleDelta().y())  # proportional to the wheel: smooth on touchpads

    # --- modes and mouse ----------------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        drag = QGraphicsView.DragMode.NoDrag if mode == "draw" else QGraphicsView.DragMode.ScrollHandDrag
        self.setDragMode(drag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if mode == "draw" else Qt.CursorShape.OpenHandCursor)
        self.select_line(self.selected, center=False)

    def _line_at(self, scene_pos: QPointF) -> str | None:
        hits = [item for item in self.scene().items(scene_pos) if isinstance(item, LineItem)]
        hits.sort(key=lambda item: item.boundingRect().width() * item.boundingRect().height())
        return hits[0].line_id if hits else None  # the smallest: nested or overlapping lines

    def mousePressEvent(self, event) -> None:
        self._press = event.position()
        if self.mode == "draw" and event.button() == Qt.MouseButton.LeftButton:
            start = self.mapToScene(event.position().toPoint())
            self._rubber = QGraphicsRectItem(QRectF(start, start))
            pen = QPen(QColor(0, 160, 255), 2)
            pen.setCosmetic(True)
            self._rubber.setPen(pen)
            self._rubber.setZValue(10)
            self.scene().addItem(self._rubber)
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._rubber is not None and self._press is not None:
            start = self.mapToScene(self._press.toPoint())
            self._rubber.setRect(QRectF(start, self.mapToScene(event.position().toPoint())).normalized())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._rubber is not None:
            rect = self._rubber.rect().intersected(self.scene().sceneRect())
            self.scene().removeItem(self._rubber)
            self._rubber = None
            if rect.width() >= 4 and rect.height() >= 4:
                self.boxDrawn.emit(
                    [
                        (rect.left(), rect.top()),
                        (rect.right(), rect.top()),
                        (rect.right(), rect.bottom()),
                        (rect.left(), rect.bottom()),
                    ]
                )
            return
        super().mouseReleaseEvent(event)
        press, self._press = self._press, None
        if press is None or (event.position() - press).manhattanLength() > CLICK_SLOP:
            return  # a pan or a handle drag, not a click
        if any(isinstance(item, Handle) for item in self.items(event.position().toPoint())):
            return
        line_id = self._line_at(self.mapToScene(event.position().toPoint()))
        if line_id is not None:
            self.lineClicked.emit(line_id)

    # --- polygon handles ----------------------------------------------------------------------

    def _clear_handles(self) -> None:
        for handle in self.handles:
            self.scene().removeItem(handle)
        self.handles.clear()

    def _show_handles(self, item: LineItem) -> None:
        polygon = item.polygon()
        for index in range(polygon.size()):
            point = polygon.at(index)
            handle = Handle(self, index, point)
            self.scene().addItem(handle)
            self.handles.append(handle)

    def handle_released(self, handle: Handle) -> None:
        if self.selected is None:
            return
        polygon = [(h.pos().x(), h.pos().y()) for h in self.handles]
        old = self._lines[self.selected].polygon
        if [(round(x), round(y)) for x, y in polygon] != [(round(x), round(y)) for x, y in old]:
            self.polygonEdited.emit(self.selected, polygon)
