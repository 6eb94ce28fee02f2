"""The model pre-training trains: the recognizer's encoder (front end + transformer), a way to
hide masked tokens, and a linear prediction head that is thrown away afterwards."""

from __future__ import annotations

import torch
from torch import nn

from mspt_core.model.config import RecognizerConfig
from mspt_core.model.encoder import Encoder, padding_mask, token_lengths
from mspt_core.pretrain.masking import fill_with_embedding, fill_with_noise, noise_tile
from mspt_core.pretrain.settings import FILLS


class MaskedEncoder(nn.Module):
    noise: torch.Tensor  # a buffer, with the "noise" fill

    def __init__(self, config: RecognizerConfig, outputs: int, fill: str = "noise"):
        super().__init__()
        if fill not in FILLS:
            raise ValueError(f"mask fill must be one of {', '.join(FILLS)}, got {fill!r}")
        self.config = config
        self.fill = fill
        self.encoder = Encoder(config)
        if fill == "embedding":
            self.mask_embedding = nn.Parameter(torch.randn(config.d_model) * 0.02)
        else:
            self.register_buffer("noise", noise_tile(config.height))
        self.predict = nn.Linear(config.d_model, outputs)

    def forward(
        self, images: torch.Tensor, widths: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions (B, T, outputs) for every token and the padding mask (B, T)."""
        if self.fill == "noise":
            images = fill_with_noise(images, mask, self.noise)
        tokens = self.encoder.embed(images, widths)
        if self.fill == "embedding":
            tokens = fill_with_embedding(tokens, mask, self.mask_embedding)
        pad_mask = padding_mask(token_lengths(widths), tokens.shape[1])
        return self.predict(self.encoder.contextualize(tokens, pad_mask)).float(), pad_mask


class EncoderOnly(nn.Module):
    """What an encoder model file holds: the encoder's weights under the recognizer's names
    (``encoder.*``), so ``load_model`` reads it as a recognizer without head weights."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.config = encoder.config
        self.encoder = encoder

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
