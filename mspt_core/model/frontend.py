"""CNN front ends: a grey line image (B, 1, H, W) becomes one d_model token per 8-px column
(B, W/8, d_model). Height is folded into channels, so every token sees the full height.

``vgg`` (the first models): dense 3x3 convolutions at full resolution, ~7.6 M multiply-adds
per 8-px column at 40 px height. ``separable`` (the CPU family): two stride-2 3x3 convolutions
reach stride 4 with few channels, then depthwise-separable blocks, one of which halves width
and height again; ~0.4 M multiply-adds per column (benchmarks/model_cost.py).

Feature columns beyond each line's width are zeroed after every activation: otherwise the
padding of a batch turns into non-zero features (BatchNorm shifts zeros) that leak into the
last real tokens, and a line would read differently alone than next to a longer one."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from mspt_core.model.config import DOWNSAMPLE, RecognizerConfig


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _zero_padding(features: torch.Tensor, widths: torch.Tensor, scale: int) -> torch.Tensor:
    """Zero the columns of ``features`` (at 1/``scale`` of the image width) past each line's end."""
    real = torch.div(widths + scale - 1, scale, rounding_mode="floor")
    columns = torch.arange(features.shape[-1], device=features.device)
    return features * (columns[None, :] < real[:, None]).to(features.dtype)[:, None, None, :]


class VGGFrontEnd(nn.Module):
    def __init__(self, config: RecognizerConfig):
        super().__init__()
        c1, c2, c3, c4 = config.frontend_channels
        self.body = nn.Sequential(
            *_conv(1, c1),
            nn.MaxPool2d(2),
            *_conv(c1, c2),
            nn.MaxPool2d(2),
            *_conv(c2, c3),
            *_conv(c3, c3),
            nn.MaxPool2d(2),
            *_conv(c3, c4),
            *_conv(c4, c4),
        )
        self.project = nn.Linear(c4 * (config.height // 8), config.d_model)

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        features, scale = images, 1
        for layer in self.body:
            features = layer(features)
            if isinstance(layer, nn.MaxPool2d):
                scale *= 2
            elif isinstance(layer, nn.ReLU):
                features = _zero_padding(features, widths, scale)
        # features: (B, C, H/8, W/8)
        b, c, h, w = features.shape
        return self.project(features.permute(0, 3, 1, 2).reshape(b, w, c * h))


class SeparableBlock(nn.Module):
    """Depthwise 3x3 (with the block's stride) then pointwise 1x1, each with BatchNorm and
    ReLU; a residual connection where shape allows. Its ``stride`` divides width and height."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(inplace=True)
        )
        self.pointwise = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, features: torch.Tensor, widths: torch.Tensor, scale: int) -> torch.Tensor:
        out = _zero_padding(self.depthwise(features), widths, scale * self.stride)
        out = self.pointwise(out)
        if self.residual:
            out = out + features
        return _zero_padding(torch.relu(out), widths, scale * self.stride)


class SeparableFrontEnd(nn.Module):
    def __init__(self, config: RecognizerConfig):
        super().__init__()
        c1, c2, c3, c4 = config.frontend_channels
        self.stem = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(1, c1, 3, 2, 1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(inplace=True)),
                nn.Sequential(nn.Conv2d(c1, c2, 3, 2, 1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(inplace=True)),
            ]
        )
        # At stride 4: widen, then halve width and height to stride 8, then two blocks there.
        self.blocks = nn.ModuleList(
            [SeparableBlock(c2, c3), SeparableBlock(c3, c3, stride=2), SeparableBlock(c3, c4), SeparableBlock(c4, c4)]
        )
        self.project = nn.Linear(c4 * (config.height // DOWNSAMPLE), config.d_model)

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        features, scale = images, 1
        for layer in self.stem:
            scale *= 2
            features = _zero_padding(layer(features), widths, scale)
        for block in self.blocks:
            features = block(features, widths, scale)
            scale *= cast(SeparableBlock, block).stride
        b, c, h, w = features.shape
        return self.project(features.permute(0, 3, 1, 2).reshape(b, w, c * h))


def FrontEnd(config: RecognizerConfig) -> nn.Module:
    """The front end the config names."""
    return SeparableFrontEnd(config) if config.frontend == "separable" else VGGFrontEnd(config)
