"""Device choice: CUDA, then Apple MPS, then CPU, unless the user names one."""

from __future__ import annotations

import torch

from mspt_core.errors import MsptError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise MsptError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MsptError("device 'cuda' was asked for but this PyTorch build sees no CUDA GPU")
    return device


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 autocast on GPUs that support it; full precision elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None
