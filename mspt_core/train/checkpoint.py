"""Training checkpoints as safetensors + JSON: model weights, optimizer moments, RNG state and
the loop's position. No pickle, so a checkpoint from anyone is safe to resume from."""

from __future__ import annotations

from pathlib import Path

import torch

from mspt_core import tensorfile
from mspt_core.errors import ModelFileError

CHECKPOINT = "checkpoint.safetensors"


# What to do with a checkpoint a run cannot resume from, said on the command line and in the app.
START_OVER = "train into another folder or start over (--no-resume; in the app, a new run from its wizard)"


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict,
    rank_rng_states: list[torch.Tensor] | None = None,
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """``rank_rng_states``: under torchrun, every rank's RNG state (rank 0's is saved anyway).
    ``extra``: more tensors the loop keeps (the weight average's), named apart from these."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update(extra or {})
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
    tensorfile.write(path, tensors, {"state": state, "param_groups": optim["param_groups"]})


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rank: int = 0,
    extra: dict[str, torch.Tensor] | None = None,
) -> dict:
    """Restore model, optimizer and RNG (``rank``'s own, when saved per rank) in place; return
    the loop state saved with them. ``extra``, where given, receives every tensor saved as
    ``extra`` (those not of the model, the optimizer or an RNG)."""
    file = tensorfile.open_file(path, "checkpoint")
    if "state" not in file.header or "param_groups" not in file.header:
        raise ModelFileError(f"{path}: not an mspt training checkpoint")
    saved_state, param_groups = file.json("state"), file.json("param_groups")
    if not isinstance(saved_state, dict) or not isinstance(param_groups, list):
        raise ModelFileError(f"{path}: not an mspt training checkpoint (its loop state is not readable)")
    tensors = file.tensors()
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError as error:  # another size, head or alphabet than this run asks for
        raise ModelFileError(
            f"{path} was written by a run with another model size, head or alphabet; {START_OVER}"
        ) from error
    slots: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({"state": slots, "param_groups": param_groups})
    except ValueError as error:  # other parameter groups: the encoder learned at another share of the rate
        raise ModelFileError(
            f"{path} was written by a run whose encoder learned at another share of the learning rate; {START_OVER}"
        ) from error
    if extra is not None:
        extra.update({k: v for k, v in tensors.items() if not k.startswith(("model.", "optim.", "rng."))})
    torch.set_rng_state(tensors.get(f"rng.torch.rank{rank}", tensors["rng.torch"]))
    cuda_states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)
    return saved_state
