"""Training checkpoints as safetensors + JSON: model weights, optimizer moments, RNG state and
the loop's position. No pickle, so a checkpoint from anyone is safe to resume from."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from mspt_core.atomic import atomic_write
from mspt_core.errors import ModelFileError

CHECKPOINT = "checkpoint.safetensors"


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict,
    rank_rng_states: list[torch.Tensor] | None = None,
) -> None:
    """``rank_rng_states``: under torchrun, every rank's RNG state (rank 0's is saved anyway)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim = optimizer.state_dict()
    for index, slots in optim["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    for rank, rng in enumerate(rank_rng_states or []):
        tensors[f"rng.torch.rank{rank}"] = rng
    if torch.cuda.is_available():
        for i, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = rng
    metadata = {"state": json.dumps(state), "param_groups": json.dumps(optim["param_groups"])}
    atomic_write(path, save(tensors, metadata=metadata))


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, rank: int = 0) -> dict:
    """Restore model, optimizer and RNG (``rank``'s own, when saved per rank) in place; return
    the loop state saved with them."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as error:
        raise ModelFileError(f"{path}: not a readable checkpoint ({error})") from error
    if "state" not in meta or "param_groups" not in meta:
        raise ModelFileError(f"{path}: not an mspt training checkpoint")
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError as error:  # another size, head or alphabet than this run asks for
        raise ModelFileError(
            f"{path} was written by a run with another model size, head or alphabet; "
            "train into another folder or start over (--no-resume)"
        ) from error
    slots: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": json.loads(meta["param_groups"])})
    torch.set_rng_state(tensors.get(f"rng.torch.rank{rank}", tensors["rng.torch"]))
    cuda_states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)
    return json.loads(meta["state"])
