"""The shared encoder: front end -> sinusoidal positions -> pre-norm transformer encoder.
Pre-training trains exactly this module, so it drops into either head."""

from __future__ import annotations

import math

import torch
from torch import nn

from mspt_core.model.config import DOWNSAMPLE, RecognizerConfig
from mspt_core.model.dropout import use_fast_dropout
from mspt_core.model.frontend import FrontEnd


def sinusoidal_positions(length: int, dim: int, device=None) -> torch.Tensor:
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


def token_lengths(widths: torch.Tensor) -> torch.Tensor:
    """Number of encoder tokens of lines whose images are ``widths`` pixels wide."""
    return torch.div(widths + DOWNSAMPLE - 1, DOWNSAMPLE, rounding_mode="floor").clamp(min=1)


def padding_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """True where a token is padding (the convention of torch's attention masks)."""
    return torch.arange(max_length, device=lengths.device)[None, :] >= lengths[:, None]


def layer_settings(config: RecognizerConfig) -> dict:
    """What every transformer layer of the recognizer is, encoder and decoder alike: the config's
    width, heads, feed-forward size and dropout; GELU, pre-norm, batch first."""
    return {
        "d_model": config.d_model,
        "nhead": config.heads,
        "dim_feedforward": config.ff,
        "dropout": config.dropout,
        "activation": "gelu",
        "batch_first": True,
        "norm_first": True,
    }


class Encoder(nn.Module):
    def __init__(self, config: RecognizerConfig):
        super().__init__()
        self.config = config
        self.frontend = FrontEnd(config)
        self.dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(**layer_settings(config))
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        use_fast_dropout(self)

    def embed(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        """Front-end tokens before positions: (B, T, d). Pre-training may replace masked ones."""
        return self.frontend(images, widths)

    def layers_output(self, tokens: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        """Positions added, then the transformer layers; before the final norm."""
        positions = sinusoidal_positions(tokens.shape[1], tokens.shape[2], tokens.device).to(tokens.dtype)
        return self.transformer(self.dropout(tokens + positions), src_key_padding_mask=pad_mask)

    def contextualize(self, tokens: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        return self.norm(self.layers_output(tokens, pad_mask))

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 1, H, W) with ink high and padding 0; widths (B,) real pixel widths.
        Returns encoded tokens (B, T, d) and the padding mask (B, T)."""
        tokens = self.embed(images, widths)
        pad_mask = padding_mask(token_lengths(widths), tokens.shape[1])
        return self.contextualize(tokens, pad_mask), pad_mask
