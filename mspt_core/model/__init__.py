"""The transformer line recognizer: CNN front end (one token per 8-px column) -> pre-norm
transformer encoder -> CTC head or autoregressive decoder head."""

from mspt_core.model.config import SIZES, RecognizerConfig, config_for
from mspt_core.model.encoder import Encoder, padding_mask, token_lengths
from mspt_core.model.recognizer import Recognizer

__all__ = ["SIZES", "RecognizerConfig", "config_for", "Encoder", "Recognizer", "padding_mask", "token_lengths"]
