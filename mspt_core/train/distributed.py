"""Data-parallel training with torch.distributed, as started by ``torchrun``.

The loop stays one loop: every rank computes its own batches' gradients, then one all-reduce of
all gradients (flattened into a single tensor, plus the loss for reporting) averages them, so
every rank takes the same optimizer step. Rank 0 alone writes checkpoints and reports progress.
Outside torchrun (no process group) every helper is a no-op and costs nothing.

Every collective runs on the backend's device (``collective_device``): CUDA tensors for NCCL,
which cannot move CPU tensors, and CPU tensors for gloo. A tensor that lives elsewhere (the CPU
RNG state, a model kept on the CPU) is copied there for the collective and back."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env(device: str = "auto") -> bool:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1): NCCL on
    GPUs, gloo on CPUs. Returns whether this process is part of a multi-process run."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if active():
        return True
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return True


def shutdown() -> None:
    if active():
        dist.destroy_process_group()


def collective_device() -> torch.device:
    """Where this rank's collectives run: its own GPU (cuda:LOCAL_RANK) under NCCL, else the CPU."""
    if active() and dist.get_backend() == "nccl":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _all_reduce(tensor: torch.Tensor, op: dist.ReduceOp.RedOpType = dist.ReduceOp.SUM) -> None:
    """All-reduce ``tensor`` in place on the backend's device, wherever it lives."""
    staged = tensor.to(collective_device())
    dist.all_reduce(staged, op=op)
    if staged is not tensor:
        tensor.copy_(staged)


def _broadcast(tensor: torch.Tensor, src: int) -> None:
    staged = tensor.to(collective_device())
    dist.broadcast(staged, src=src)
    if staged is not tensor:
        tensor.copy_(staged)


def local_device(device: torch.device) -> torch.device:
    """Each rank on a GPU of its own: cuda:LOCAL_RANK."""
    if active() and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def broadcast_model(model: nn.Module) -> None:
    """Start every rank from rank 0's weights and buffers."""
    if not active():
        return
    for tensor in list(model.parameters()) + list(model.buffers()):
        _broadcast(tensor.data, src=0)


def average_gradients(model: nn.Module, loss: float) -> float:
    """Average the gradients over ranks in place; returns the loss averaged over ranks.
    Parameters without a gradient (e.g. frozen) stay without one on every rank."""
    if not active():
        return loss
    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device if params else torch.device("cpu")
    grads = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=device) for p in params]
    flat = torch.cat(grads + [torch.tensor([loss], device=device, dtype=grads[0].dtype if grads else torch.float32)])
    _all_reduce(flat)
    flat /= world_size()
    offset = 0
    for p in params:
        n = p.numel()
        if p.grad is not None:
            p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n
    return float(flat[-1])


def average_buffers(model: nn.Module) -> None:
    """BatchNorm statistics drift apart per rank; average them before saving or validating."""
    average_over_ranks(list(model.buffers()))


def average_over_ranks(tensors: list[torch.Tensor]) -> None:
    """Average the floating-point ``tensors`` over ranks in place (a collective: every rank calls
    it with the same tensors)."""
    if not active():
        return
    for tensor in tensors:
        if tensor.is_floating_point():
            _all_reduce(tensor.data)
            tensor.data /= world_size()


def gather_rng_states() -> list[torch.Tensor]:
    """Every rank's torch CPU RNG state, in rank order (a collective: all ranks must call it),
    so a checkpoint can give each rank back its own dropout noise on resume."""
    state = torch.get_rng_state()
    if not active():
        return [state]
    device = collective_device()
    states = [torch.empty_like(state, device=device) for _ in range(world_size())]
    dist.all_gather(states, state.to(device))
    return [s.cpu() for s in states]


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on one (e.g. a cancel request seen by rank 0)."""
    if not active():
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=collective_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def barrier() -> None:
    if active():
        dist.barrier()
