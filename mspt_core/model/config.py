"""Architecture settings of the recognizer and its named sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

# Both front ends give one encoder token per 8-px column of the line (pre-training masks such
# columns). The CTC head may read several frames from each token (``ctc_frames``).
DOWNSAMPLE = 8
# The line height every bundled model reads at and what line images are scaled to unless a model
# says otherwise (px, a multiple of DOWNSAMPLE).
LINE_HEIGHT = 40
FRONTENDS = ("vgg", "separable")
NEWER_KEYS = {"frontend": "vgg", "ctc_frames": 1}  # settings newer than format version 1


@dataclass(frozen=True)
class RecognizerConfig:
    height: int = LINE_HEIGHT  # line image height in pixels; a multiple of 8
    # "vgg": dense 3x3 convolutions at full resolution (the first models); "separable": two
    # stride-2 convolutions, then depthwise-separable blocks (a fifth of the cost, for CPUs).
    frontend: str = "vgg"
    frontend_channels: tuple[int, ...] = (32, 64, 128, 128)
    d_model: int = 256
    layers: int = 4
    heads: int = 4
    ff: int = 1024
    dropout: float = 0.1
    head: str = "ctc"  # "ctc" or "decoder": which head reads text by default
    decoder_layers: int = 2
    max_text_length: int = 512  # guard for autoregressive decoding
    # CTC frames per encoder token: 2 gives one frame per 4 px, so a narrow doubled letter
    # ("ll", the "fi" ligature) has room for letter, blank, letter.
    ctc_frames: int = 1

    def __post_init__(self):
        if self.height % DOWNSAMPLE:
            raise ValueError(f"line height must be a multiple of {DOWNSAMPLE}, got {self.height}")
        if self.head not in ("ctc", "decoder"):
            raise ValueError(f"head must be 'ctc' or 'decoder', got {self.head!r}")
        if self.d_model % self.heads:
            raise ValueError("d_model must be divisible by heads")
        if self.frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {', '.join(FRONTENDS)}, got {self.frontend!r}")
        if len(self.frontend_channels) != 4:
            raise ValueError("frontend_channels must name 4 channel counts")
        if self.ctc_frames not in (1, 2, 4, 8):
            raise ValueError(f"ctc_frames must divide {DOWNSAMPLE}, got {self.ctc_frames}")

    @property
    def frame_stride(self) -> int:
        """Pixels of line per CTC frame."""
        return DOWNSAMPLE // self.ctc_frames

    def to_json(self) -> dict:
        data = asdict(self)
        data["frontend_channels"] = list(self.frontend_channels)
        # Keys added since the first model files are written only where they differ from the
        # old behaviour, so older mspt versions still read the files they could read before.
        for key, old_default in NEWER_KEYS.items():
            if data[key] == old_default:
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: dict) -> RecognizerConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        data = dict(data)
        if "frontend_channels" in data:
            data["frontend_channels"] = tuple(data["frontend_channels"])
        return cls(**data)


SIZES: dict[str, RecognizerConfig] = {
    # ~1M parameters: fast enough for CPU tests.
    "tiny": RecognizerConfig(
        frontend_channels=(16, 32, 64, 64), d_model=144, layers=3, heads=4, ff=576, decoder_layers=1
    ),
    # The CPU family: separable front end, CTC at 4 px; a few M multiply-adds per 8 px of line
    # (benchmarks/model_cost.py prints them).
    "fast": RecognizerConfig(
        frontend="separable",
        frontend_channels=(16, 32, 64, 128),
        d_model=192,
        layers=4,
        heads=4,
        ff=768,
        ctc_frames=2,
        decoder_layers=2,
    ),
    # The first CPU default (VGG front end), ~4M parameters.
    "small": RecognizerConfig(),
    # The authors' default encoder: 6 layers, d 512, 4 heads, FF 2048.
    "base": RecognizerConfig(
        frontend_channels=(64, 128, 256, 256), d_model=512, layers=6, heads=4, ff=2048, decoder_layers=6
    ),
    "large": RecognizerConfig(
        frontend_channels=(64, 128, 256, 512), d_model=768, layers=12, heads=8, ff=3072, decoder_layers=6
    ),
}


# Seconds one CPU takes to train on one line of each size, for estimates shown before a run.
# Measured: 'small' at ~2.3 s per step of 16 lines on 2 CPU cores (benchmarks/RESULTS.md), 'fast'
# at ~0.65 s per step of 16 on one thread (the default-model recipe's run), counted as if the
# second core did not help; the other sizes scale roughly with parameters x lines.
CPU_TRAIN_SECONDS_PER_LINE: dict[str, float] = {"tiny": 0.03, "fast": 0.04, "small": 0.145, "base": 0.9, "large": 3.0}


def config_for(size: str, **overrides) -> RecognizerConfig:
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose one of {', '.join(SIZES)}")
    return replace(SIZES[size], **overrides)
