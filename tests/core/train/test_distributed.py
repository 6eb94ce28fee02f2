"""The data-parallel helpers in two gloo processes: gradients, loss and BatchNorm statistics
are averaged (the weight average's too), start weights come from rank 0, a stop request on one rank stops all, and each
rank gets its own RNG state back from a checkpoint."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, results) -> None:
    from mspt_core.train import distributed
    from mspt_core.train.ema import WeightAverage

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        torch.manual_seed(rank)  # different start weights per rank...
        model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
        distributed.broadcast_model(model)  # ...until rank 0's are broadcast
        for p in model.parameters():
            p.grad = torch.full_like(p, float(rank + 1))
        model[1].running_mean.fill_(float(rank * 2))
        loss = distributed.average_gradients(model, float(rank * 10))
        distributed.average_buffers(model)
        running_mean = model[1].running_mean.clone()
        average = WeightAverage(model, 0.5)  # the weight average's BatchNorm statistics, per rank...
        model[1].running_mean.fill_(float(rank * 4))
        average.update(model)
        distributed.average_over_ranks(average.running_sums())  # ...averaged over ranks too
        results[rank] = {
            "weight": model[0].weight.detach().clone(),
            "grad": model[0].weight.grad.clone(),
            "loss": loss,
            "running_mean": running_mean,
            "averaged_mean": average.averaged()["1.running_mean"].clone(),
            "stop": distributed.any_rank(rank == 1),
            "own_rng": torch.get_rng_state(),
            "rng_states": distributed.gather_rng_states(),
        }
    finally:
        dist.destroy_process_group()


def test_gradients_buffers_and_stop_are_shared():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=2, join=True)
    a, b = results[0], results[1]
    assert torch.equal(a["weight"], b["weight"])
    assert torch.allclose(a["grad"], torch.full((2, 2), 1.5)) and torch.equal(a["grad"], b["grad"])
    assert a["loss"] == b["loss"] == 5.0
    assert torch.allclose(a["running_mean"], torch.ones(2))
    assert torch.allclose(a["averaged_mean"], torch.full((2,), 2.0)) and torch.equal(
        a["averaged_mean"], b["averaged_mean"]
    )
    assert a["stop"] and b["stop"]

    assert torch.equal(a["rng_states"][0], a["own_rng"]) and torch.equal(a["rng_states"][1], b["own_rng"])
    assert not torch.equal(a["own_rng"], b["own_rng"])


def test_a_checkpoint_gives_each_rank_its_own_rng_state(tmp_path):
    from mspt_core.train.checkpoint import load_checkpoint, save_checkpoint

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        states.append(torch.get_rng_state())
    save_checkpoint(tmp_path / "c.safetensors", model, optimizer, {"step": 3}, states)
    for rank in (0, 1):
        torch.manual_seed(99)
        assert load_checkpoint(tmp_path / "c.safetensors", model, optimizer, rank) == {"step": 3}
        assert torch.equal(torch.get_rng_state(), states[rank])


class _Reached(Exception):
    """Raised by a spy once it has seen the tensors a collective was given."""


@pytest.mark.parametrize(("backend", "expected"), [("nccl", torch.device("cuda", 1)), ("gloo", torch.device("cpu"))])
def test_collectives_run_on_the_backends_device(monkeypatch, backend, expected):
    """NCCL moves CUDA tensors only, gloo CPU ones: the helpers pick the device per backend. No GPU
    is needed: torch.distributed is replaced by spies, and under "nccl" the meta device stands in
    for cuda:LOCAL_RANK so a CPU-only torch can make the tensors the spies inspect."""
    from mspt_core.train import distributed

    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_backend", lambda group=None: backend)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 0)
    assert distributed.collective_device() == expected

    stand_in = torch.device("meta") if expected.type == "cuda" else expected
    monkeypatch.setattr(distributed, "collective_device", lambda: stand_in)
    seen: dict[str, list[torch.device]] = {}

    def spy(name):
        def collective(*args, **kwargs):
            tensors = [a for arg in args for a in (arg if isinstance(arg, list) else [arg])]
            seen[name] = [t.device for t in tensors if isinstance(t, torch.Tensor)]
            raise _Reached

        return collective

    for name in ("all_reduce", "all_gather", "broadcast"):
        monkeypatch.setattr(dist, name, spy(name))

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))  # kept on the CPU
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    calls = {
        "broadcast_model": lambda: distributed.broadcast_model(model),
        "average_gradients": lambda: distributed.average_gradients(model, 1.0),
        "average_buffers": lambda: distributed.average_buffers(model),
        "gather_rng_states": distributed.gather_rng_states,
        "any_rank": lambda: distributed.any_rank(True),
    }
    for helper, call in calls.items():
        seen.clear()
        with pytest.raises(_Reached):
            call()
        ((collective, devices),) = seen.items()
        assert devices and all(d == stand_in for d in devices), (helper, collective, devices)
