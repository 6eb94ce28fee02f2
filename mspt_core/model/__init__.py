"""The transformer line recognizer: CNN front end (one token per 8-px column) -> pre-norm
transformer encoder -> CTC head or autoregressive decoder head.

The settings (``config``: the named sizes, ``LINE_HEIGHT``) are plain data; the network's names
are imported on first use, so reading a size or the line height (``mspt --help`` does) does not
load torch."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from mspt_core.model.config import LINE_HEIGHT, SIZES, RecognizerConfig, config_for

if TYPE_CHECKING:
    from mspt_core.model.encoder import Encoder, padding_mask, token_lengths
    from mspt_core.model.recognizer import Recognizer

_NETWORK = {"Encoder": "encoder", "padding_mask": "encoder", "token_lengths": "encoder", "Recognizer": "recognizer"}

__all__ = [
    "LINE_HEIGHT",
    "SIZES",
    "RecognizerConfig",
    "config_for",
    "Encoder",
    "Recognizer",
    "padding_mask",
    "token_lengths",
]


def __getattr__(name: str):
    if name not in _NETWORK:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"mspt_core.model.{_NETWORK[name]}"), name)
