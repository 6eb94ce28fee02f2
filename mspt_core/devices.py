"""Device choice: CUDA, then Apple MPS, then CPU, unless the user names one; and whether training
on it runs under bf16 autocast."""

from __future__ import annotations

import os

import torch

from mspt_core.errors import MsptError

CPU_BF16_VARIABLE = "MSPT_CPU_BF16"


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


CUDA_ADVICE = (
    "to use an NVIDIA GPU, install PyTorch's CUDA build into mspt's Python "
    "(pip install torch --index-url https://download.pytorch.org/whl/cu128) and an NVIDIA driver"
)


def gpu_summary() -> str:
    """One plain sentence: which GPU mspt uses, or why none, and what to install to use one."""
    if torch.cuda.is_available():
        return f"GPU found: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}); mspt reads and trains on it."
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "GPU found: Apple silicon (Metal); mspt reads and trains on it."
    if torch.version.cuda is None:
        return f"No GPU in use: this PyTorch ({torch.__version__}) is built for the CPU only; {CUDA_ADVICE}."
    return (
        f"No GPU found: PyTorch is built for CUDA {torch.version.cuda} but sees no NVIDIA GPU; "
        "check that the NVIDIA driver is installed (nvidia-smi lists the GPU)."
    )


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AVX-512 BF16 or AMX). Where it does,
    training under bf16 autocast takes about a third less time a step; where it does not, bf16 is
    emulated and slower than full precision. ``$MSPT_CPU_BF16=0`` turns it off."""
    if os.environ.get(CPU_BF16_VARIABLE, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    # torch.cpu's probes are private: a PyTorch without them is taken for a CPU without bf16.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 autocast on GPUs and CPUs that compute it natively; full precision elsewhere. Under
    autocast the weights and the optimizer stay in full precision, and every loss casts its
    inputs to fp32. A run keeps the precision it started in (``train.loop``)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def precision_name(amp_dtype: torch.dtype | None) -> str:
    """How a model file's provenance names the precision a run trained in: "bf16" or "full"."""
    return "bf16" if amp_dtype is torch.bfloat16 else "full"


def training_label(device: torch.device, amp_dtype: torch.dtype | None) -> str:
    """How a run trains, as a person reads it: ``cpu``, ``cpu (bf16)``, ``cuda (bf16)``."""
    return f"{device} (bf16)" if amp_dtype is torch.bfloat16 else str(device)
