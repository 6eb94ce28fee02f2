"""VGG-like CNN front end: a grey line image (B, 1, H, W) becomes one d_model token per 8-px
column (B, W/8, d_model). Height is folded into channels, so every token sees the full height.

Feature columns beyond each line's width are zeroed after every activation: otherwise the
padding of a batch turns into non-zero features (BatchNorm shifts zeros) that leak into the
last real tokens, and a line would read differently alone than next to a longer one."""

from __future__ import annotations

import torch
from torch import nn

from mspt_core.model.config import RecognizerConfig


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class FrontEnd(nn.Module):
    def __init__(self, config: RecognizerConfig):
        super().__init__()
        c1, c2, c3, c4 = config.frontend_channels
        self.body = nn.Sequential(
            *_conv(1, c1), nn.MaxPool2d(2),
            *_conv(c1, c2), nn.MaxPool2d(2),
            *_conv(c2, c3), *_conv(c3, c3), nn.MaxPool2d(2),
            *_conv(c3, c4), *_conv(c4, c4),
        )
        self.project = nn.Linear(c4 * (config.height // 8), config.d_model)

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        features, scale = images, 1
        for layer in self.body:
            features = layer(features)
            if isinstance(layer, nn.MaxPool2d):
                scale *= 2
            elif isinstance(layer, nn.ReLU):
                real = torch.div(widths + scale - 1, scale, rounding_mode="floor")
                columns = torch.arange(features.shape[-1], device=features.device)
                features = features * (columns[None, :] < real[:, None]).to(features.dtype)[:, None, None, :]
        # features: (B, C, H/8, W/8)
        b, c, h, w = features.shape
        return self.project(features.permute(0, 3, 1, 2).reshape(b, w, c * h))
