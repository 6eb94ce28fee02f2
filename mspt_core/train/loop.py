"""The one training loop. Supervised training, fine-tuning and pre-training plug a ``Job`` into
it; the loop owns the optimizer, learning-rate schedule, mixed precision, gradient
accumulation and clipping, validation with keep-best and early stopping, checkpoints with exact
resume, progress callbacks and cancellation.

Exact resume: each epoch's batch order and each batch's augmentation come from generators
seeded by (seed, epoch, batch index), and the torch RNG (dropout) is saved in the checkpoint,
so a run killed and resumed takes the same steps as one that never stopped.

Keep-best: with ``start_is_candidate`` (a run that starts from a model it must not make
worse, e.g. fine-tuning a recognizer), the starting weights are validated before the first step
and recorded as step 0; a run whose later validations never beat them ends with
``best_step == 0`` (``TrainResult.kept_start``), and the job's ``save_best`` saw step 0 last.

Optional job hooks: ``on_step_start(step)``, called before the first batch of every optimizer
step (schedules that depend on the step, warm-up freezing); ``resume_record()``, a JSON-able
dict of how the job makes its batches that the loop state does not hold (a recognizer's
training widths), saved in every checkpoint: a run resumed with another record is refused, as
it would not take the steps it started to (a checkpoint written before the record existed
counts as one whose job made its batches as by default, as every job did then); ``data_record()``,
a JSON-able dict of the data it learns from (line counts and a digest), saved the same way: a run
resumed on other data is refused (a checkpoint from before this record is not checked);
``validation_record()``, a JSON-able dict of how validation reads the weights (a recognizer's
blend toward its base), saved the same way: a run resumed reading otherwise is refused, as its
keep-best would compare unlike figures (a checkpoint from before this record is not checked);
``trains_in(precision)``, told before the first step whether the run trains in "bf16" or "full"
precision (a resumed run in the one it started in), for the provenance of the files it writes.
Under torchrun (see ``distributed``) gradients are averaged over ranks and only rank 0 writes and reports.

Weight average: with ``settings.ema_decay``, validation, keep-best and the end of the run read
an exponential moving average of the weights (``ema.WeightAverage``), kept in every checkpoint;
the steps themselves are the same either way (with ``patience``, early stopping follows the
average's validations, so a run may stop at another step). A run resumed from a checkpoint
without the average (one that did not average, or from before) or with one of another decay
averages from the step it resumes at (``state["ema_from"]``); its keep-best still compares with
the best validation before it. Under torchrun the average's BatchNorm statistics are averaged
over ranks before each validation and checkpoint, as the model's own are."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from mspt_core.devices import autocast_dtype, pick_device, precision_name, training_label
from mspt_core.errors import ModelFileError
from mspt_core.train import distributed
from mspt_core.train.checkpoint import CHECKPOINT, START_OVER, load_checkpoint, save_checkpoint
from mspt_core.train.ema import WeightAverage
from mspt_core.train.settings import TrainSettings


def _described(record: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in record.items()) or "the defaults"


def _other_lines(then: dict | None, now: dict | None) -> str:
    """How two data records differ, in words: their counts, or that only the lines themselves do."""

    def counted(data: dict | None) -> str:
        if not data:
            return "unrecorded"
        return ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in data.items() if isinstance(value, int))

    if counted(then) == counted(now):
        return f"{counted(now)} both times, but other pixels or texts: a page changed, lines cut or read otherwise"
    return f"{counted(then)} then, {counted(now)} now"


@dataclass
class Progress:
    """What the loop reports after every optimizer step (and on validation / finish)."""

    event: str  # "step", "validation", "finished", "cancelled", "early_stop"
    step: int
    total_steps: int
    loss: float | None = None
    lr: float | None = None
    metric: float | None = None  # latest validation metric (lower is better, e.g. CER)
    best_metric: float | None = None
    elapsed: float = 0.0  # seconds in this process
    eta: float | None = None  # seconds to go at the current pace
    device: str = ""  # what the run trains on and in which precision, e.g. "cpu (bf16)"


@dataclass
class TrainResult:
    status: str  # "finished", "cancelled", "early_stop"
    step: int
    best_metric: float | None
    best_step: int | None
    history: list[dict] = field(default_factory=list)

    @property
    def kept_start(self) -> bool:
        """No validation after the first step beat the starting weights (step 0)."""
        return self.best_step == 0

    @property
    def start_metric(self) -> float | None:
        """The starting weights' validation (step 0), where they were a candidate."""
        return next((h["val"] for h in self.history if h["step"] == 0 and "val" in h), None)


class Job(Protocol):
    @property
    def model(self) -> nn.Module: ...  # read-only here, so a job may hold any kind of module

    def param_groups(self) -> list[dict]: ...  # each with "params" and "lr_scale"

    def epoch_batches(self, rng: np.random.Generator) -> Sequence: ...

    def loss(self, batch, rng: np.random.Generator, device: torch.device) -> torch.Tensor: ...

    def validate(self, device: torch.device) -> float | None: ...

    def save_best(self, metric: float, step: int) -> None: ...


def lr_factor(step: int, settings: TrainSettings) -> float:
    if step < settings.warmup:
        return (step + 1) / settings.warmup
    if settings.schedule == "constant":
        return 1.0
    progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def train(
    job: Job,
    settings: TrainSettings,
    run_dir: Path,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = True,
    start_is_candidate: bool = False,
) -> TrainResult:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = distributed.local_device(pick_device(settings.device))
    amp_dtype = autocast_dtype(device) if settings.amp else None
    main_rank = distributed.is_main()
    torch.manual_seed(settings.seed + distributed.rank())  # own dropout noise per rank
    model = job.model.to(device)
    distributed.broadcast_model(model)
    groups = job.param_groups()
    for group in groups:
        group["base_lr"] = settings.lr * group.pop("lr_scale", 1.0)
        group["lr"] = group["base_lr"]
    optimizer = torch.optim.AdamW(groups, lr=settings.lr, weight_decay=settings.weight_decay)
    average = WeightAverage(model, settings.ema_decay) if settings.ema_decay else None
    state: dict[str, Any] = {  # the loop's position and record, saved in every checkpoint
        "step": 0,
        "epoch": 0,
        "batch": 0,
        "best": None,
        "best_step": None,
        "stale": 0,
        "history": [],
        "settings": asdict(settings),
    }
    checkpoint = run_dir / CHECKPOINT
    record = job.resume_record() if hasattr(job, "resume_record") else {}
    data = job.data_record() if hasattr(job, "data_record") else None
    judged = job.validation_record() if hasattr(job, "validation_record") else {}
    if resume and checkpoint.exists():
        saved_extra: dict[str, torch.Tensor] = {}
        state = load_checkpoint(checkpoint, model, optimizer, distributed.rank(), saved_extra)
        # The settings of the start that wrote it (each start records its own, below).
        saved_decay = (state.get("settings") or {}).get("ema_decay")
        if average is not None and not average.restore(saved_extra, state.get("ema_updates", 0), saved_decay):
            state["ema_from"] = state["step"]
        saved = state.get("job", {})  # none recorded: a checkpoint from before the record, made as by default
        if saved != record:
            raise ModelFileError(
                f"{checkpoint} was written by a run that made its batches otherwise ({_described(saved)} "
                f"then, {_described(record)} now); {START_OVER}"
            )
        learned = state.get("data")  # None: a checkpoint from before the record, not checkable
        # Every rank decides together: one that read other lines must not leave the rest waiting.
        if distributed.any_rank(learned is not None and learned != data):
            raise ModelFileError(
                f"{checkpoint} was written by a run that learned from other lines ({_other_lines(learned, data)}); "
                f"{START_OVER}"
            )
        validated = state.get("validation")  # None: a checkpoint from before the record, not checkable
        if validated is not None and validated != judged:
            raise ModelFileError(
                f"{checkpoint} was written by a run that validated otherwise ({_described(validated)} then, "
                f"{_described(judged)} now); {START_OVER}"
            )
    # A run keeps the precision of its first start (a resumed run takes the very steps it would
    # have taken), whatever this machine or $MSPT_CPU_BF16 would choose now; a checkpoint from
    # before the record was trained as mspt then did: bf16 on GPUs only.
    if "precision" in state:
        amp_dtype = torch.bfloat16 if state["precision"] == "bf16" and device.type in ("cpu", "cuda") else None
    elif state["step"] > 0 and device.type == "cpu":
        amp_dtype = None
    state["precision"] = precision_name(amp_dtype)
    if hasattr(job, "trains_in"):
        job.trains_in(state["precision"])
    trains_on = training_label(device, amp_dtype)
    state["job"] = record
    state["data"] = data
    state["validation"] = judged
    state["settings"] = asdict(settings)  # as this start trains (a resume may change e.g. its patience)
    report = on_progress if on_progress and main_rank else (lambda progress: None)
    stop = should_stop or (lambda: False)
    step_hook = getattr(job, "on_step_start", None)

    def checkpoint_now() -> None:
        distributed.average_buffers(model)
        rng_states = distributed.gather_rng_states() if distributed.active() else None
        if average is not None:
            distributed.average_over_ranks(average.running_sums())
            state["ema_updates"] = average.updates
        if main_rank:
            extra = average.tensors() if average is not None else None
            save_checkpoint(checkpoint, model, optimizer, state, rng_states, extra)

    started, start_step = time.monotonic(), state["step"]

    def progress(event: str, loss=None, metric=None) -> Progress:
        elapsed = time.monotonic() - started
        done = state["step"] - start_step
        eta = elapsed / done * (settings.steps - state["step"]) if done else None
        lr = optimizer.param_groups[0]["lr"]
        return Progress(event, state["step"], settings.steps, loss, lr, metric, state["best"], elapsed, eta, trains_on)

    def validate() -> str | None:
        distributed.average_buffers(model)
        if average is not None:
            distributed.average_over_ranks(average.running_sums())
        model.eval()
        with average.swapped_in(model) if average is not None else nullcontext():
            metric = job.validate(device)
            if metric is not None:
                state["history"].append({"step": state["step"], "val": metric})
                if state["best"] is None or metric < state["best"]:
                    state.update(best=metric, best_step=state["step"], stale=0)
                    if main_rank:
                        job.save_best(metric, state["step"])
                else:
                    state["stale"] += 1
        model.train()
        if metric is None:
            return None
        report(progress("validation", metric=metric))
        if settings.patience and state["stale"] >= settings.patience:
            return "early_stop"
        return None

    status = "finished"
    # Once per run: a resumed run (past step 0) has the record in its checkpoint's history.
    if start_is_candidate and state["step"] == 0:
        status = validate() or status
    model.train()
    pending, accumulated_loss = 0, 0.0
    while state["step"] < settings.steps and status == "finished":
        batches = job.epoch_batches(np.random.default_rng([settings.seed, state["epoch"]]))
        if not batches:
            raise ValueError("the training data gives no batches")
        while state["batch"] < len(batches):
            index = state["batch"]
            rng = np.random.default_rng([settings.seed, state["epoch"], index, 1])
            if pending == 0 and step_hook is not None:
                step_hook(state["step"])
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = job.loss(batches[index], rng, device)
            (loss / settings.accumulate).backward()
            accumulated_loss += float(loss.detach()) / settings.accumulate
            pending += 1
            state["batch"] += 1
            if pending < settings.accumulate:
                continue
            accumulated_loss = distributed.average_gradients(model, accumulated_loss)
            factor = lr_factor(state["step"], settings)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            if settings.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if average is not None:
                average.update(model)
            state["step"] += 1
            state["history"].append({"step": state["step"], "loss": accumulated_loss})
            report(progress("step", loss=accumulated_loss))
            pending, accumulated_loss = 0, 0.0
            step = state["step"]
            if step % settings.val_every == 0 or step == settings.steps:
                status = validate() or status
            if step % settings.checkpoint_every == 0 or step == settings.steps or status != "finished":
                checkpoint_now()
            if status != "finished" or step >= settings.steps:
                break
            if distributed.any_rank(stop()):
                status = "cancelled"
                checkpoint_now()
                break
        else:
            state["epoch"] += 1
            state["batch"] = 0
    report(progress(status))
    model.eval()
    if average is not None:
        average.keep_in(model)  # what a run without validation keeps is the average too
    return TrainResult(status, state["step"], state["best"], state["best_step"], state["history"])
