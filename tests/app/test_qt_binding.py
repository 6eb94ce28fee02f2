"""The Qt binding itself must not corrupt Python: a session emits signals without end (progress,
training events), so a reference lost per emit ends in an abort a few hours in."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    text = Signal(str)
    payload = Signal(dict)


class Receiver(QObject):
    def __init__(self):
        super().__init__()
        self.seen = 0

    def on(self, value) -> None:
        self.seen += 1


def test_emitting_signals_keeps_the_reference_counts_of_true_none_and_the_payload():
    emitter, receiver = Emitter(), Receiver()
    emitter.text.connect(receiver.on)
    emitter.payload.connect(receiver.on)
    payload = {"event": "step", "step": 1}
    for _ in range(10):  # first emits fill the binding's caches, once
        emitter.text.emit("x")
        emitter.payload.emit(payload)
    before = sys.getrefcount(True), sys.getrefcount(None), sys.getrefcount(payload)
    for _ in range(200):
        emitter.text.emit("x")
        emitter.payload.emit(payload)
    assert receiver.seen == 420
    true, none, held = sys.getrefcount(True), sys.getrefcount(None), sys.getrefcount(payload)
    assert true == before[0] and held == before[2]
    assert abs(none - before[1]) < 40  # other objects come and go; a per-emit loss would be 400
