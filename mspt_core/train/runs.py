"""Training runs that live in a folder and run in a process of their own.

Whoever starts a run (the app's wizards) writes ``run.json`` and starts
``python -m mspt_core.train.runs RUN``. The process talks only through files, so a window can
watch it, be closed (the run goes on in the background), crash, or restart and find the run
again; and a run stopped in any way resumes from its last checkpoint when started again:

    run.json        what to do: a RunSpec (``runspec``), kind "pretrain", "finetune" or "adapt"
    control         "run", "pause" or "stop"; read by the process after every step
    events.jsonl    what happened: RunEvents (``runspec``), one JSON object per line, appended by the process
    lock            locked by the process for as long as it lives (the OS frees it on any death)
    result.json     the outcome of a finished run: model name, validation CERs; a fine-tune that
                    never beat its base says so (``kept_base``) and installs nothing; an adapting
                    run has no validation, and says how many of the lines it read it learned from
    process.log     the process's own output (a traceback if it failed)
    work/           line store, checkpoints, the trained model
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mspt_core import locks
from mspt_core.atomic import atomic_write
from mspt_core.train.runspec import EventKind, RunEvent, RunSpec

SPEC, CONTROL, EVENTS, LOCK, RESULT, LOG, WORK = (
    "run.json",
    "control",
    "events.jsonl",
    "lock",
    "result.json",
    "process.log",
    "work",
)
STEP_EVENT_SECONDS = 0.5  # step events are thinned to this pace; validations are always written


# --- the side that starts and watches a run ---------------------------------------------------


def create_run(run_dir: Path, spec: RunSpec) -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=False)
    spec.created = time.time()
    write_spec(run_dir, spec)
    return run_dir


def write_spec(run_dir: Path, spec: RunSpec) -> None:
    atomic_write(Path(run_dir) / SPEC, json.dumps(spec.to_json(), indent=1).encode("utf-8"))


def read_spec(run_dir: Path) -> RunSpec:
    """The run's spec; RunSpecError (a ValueError) names what is wrong with a bad one."""
    return RunSpec.from_json(json.loads((Path(run_dir) / SPEC).read_text(encoding="utf-8")))


class RunBusy(RuntimeError):
    """The run already has a process working on it."""


def start_run(run_dir: Path) -> subprocess.Popen:
    """Start (or resume) the run in a new process that outlives the caller."""
    run_dir = Path(run_dir)
    if is_alive(run_dir):
        raise RunBusy(f"{run_dir}: a process is already working on this run")
    set_control(run_dir, "run")
    (run_dir / RESULT).unlink(missing_ok=True)
    log = open(run_dir / LOG, "ab")
    try:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # Its own session: closing the window (or a Ctrl+C in its terminal) does not kill it.
        flags = (
            {"start_new_session": True}
            if os.name != "nt"
            else {  # Windows-only constants, absent from the type stubs elsewhere
                "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
                | subprocess.DETACHED_PROCESS  # type: ignore[attr-defined]
            }
        )
        return subprocess.Popen(
            [sys.executable, "-m", "mspt_core.train.runs", str(run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            **flags,
        )
    finally:
        log.close()


def set_control(run_dir: Path, command: str) -> None:
    if command not in ("run", "pause", "stop"):
        raise ValueError(command)
    for _attempt in range(20):
        try:
            atomic_write(Path(run_dir) / CONTROL, command.encode("ascii"))
            return
        except PermissionError:  # Windows: the process is reading the file this instant
            time.sleep(0.05)
    atomic_write(Path(run_dir) / CONTROL, command.encode("ascii"))


def read_control(run_dir: Path) -> str | None:
    """The latest command, or None when the file cannot be read just now."""
    try:
        return (Path(run_dir) / CONTROL).read_text(encoding="ascii").strip() or "run"
    except FileNotFoundError:
        return "run"
    except OSError:
        return None


def is_alive(run_dir: Path) -> bool:
    """Whether a process is working on the run: it holds the run's lock (``mspt_core.locks``),
    which the operating system frees whenever the process ends (killed, crashed, power cut), so
    no clock, sleep or network share can make a dead run look alive or a live one look dead."""
    return locks.is_held(Path(run_dir) / LOCK)


def read_events(run_dir: Path, offset: int = 0) -> tuple[list[RunEvent], int]:
    """Events appended since byte ``offset``, and the offset to read on from. A line still
    being written (no newline yet) waits for the next call; a torn line, or one of a kind this
    version does not know, is left out."""
    try:
        with open(Path(run_dir) / EVENTS, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]
    events = []
    for raw in complete.splitlines():
        try:
            event = RunEvent.from_json(json.loads(raw))
        except ValueError:
            continue  # a line torn by a kill mid-write
        if event is not None:
            events.append(event)
    return events, offset + len(complete)


def read_result(run_dir: Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class RunSummary:
    """What a run's files say about it, for a list of runs."""

    path: Path
    spec: RunSpec
    state: str  # "running", "paused", "finished", "cancelled", "failed", "interrupted", "new"
    step: int = 0
    total_steps: int = 0
    message: str = ""
    result: dict | None = None
    validations: list[tuple[int, float]] = field(default_factory=list)

    @property
    def resumable(self) -> bool:
        return self.state in ("cancelled", "failed", "interrupted")


def next_state(state: str, event: RunEvent) -> str:
    """A run's state after one of its events (the states of ``RunSummary``)."""
    if event.kind is EventKind.END:
        return event.status or "failed"
    if event.kind in (EventKind.STARTED, EventKind.RESUMED):
        return "running"
    if event.kind is EventKind.PAUSED:
        return "paused"
    return state


def summarize(run_dir: Path) -> RunSummary:
    run_dir = Path(run_dir)
    events, _ = read_events(run_dir)
    summary = RunSummary(run_dir, read_spec(run_dir), "new")
    for event in events:
        if event.kind is EventKind.STEP:
            summary.step, summary.total_steps = event.step or 0, event.total or 0
        elif event.kind is EventKind.VALIDATION and event.step is not None and event.cer is not None:
            summary.validations.append((event.step, event.cer))
        elif event.kind in (EventKind.STATUS, EventKind.END):
            summary.message = event.message or summary.message
        summary.state = next_state(summary.state, event)
    if summary.state in ("running", "paused") and not is_alive(run_dir):
        summary.state = "interrupted"  # killed, crashed, or the machine went down
    summary.result = read_result(run_dir) if summary.state == "finished" else None
    return summary


def list_runs(root: Path, cache: dict | None = None) -> list[RunSummary]:
    """The runs under ``root``, newest first; folders that are not runs are left out.

    With a ``cache`` (a dict kept by the caller between calls), a run whose events and result
    have not changed is not read again — a long run's events file holds hundreds of thousands
    of lines — only whether its process still lives is looked at."""
    runs = []
    for path in sorted(Path(root).glob("*/" + SPEC), reverse=True):
        try:
            runs.append(_summary(path.parent, cache))
        except (OSError, ValueError, KeyError):
            continue
    return runs


def _summary(run_dir: Path, cache: dict | None) -> RunSummary:
    if cache is None:
        return summarize(run_dir)
    try:
        events = (run_dir / EVENTS).stat()
        stamp: tuple | None = (events.st_size, events.st_mtime_ns, (run_dir / RESULT).exists())
    except OSError:
        stamp = None
    cached = cache.get(run_dir)
    if stamp is None or cached is None or cached[0] != stamp:
        cache[run_dir] = (stamp, summarize(run_dir))
    summary = replace(cache[run_dir][1])  # a copy: callers may change its state
    if summary.state in ("running", "paused") and not is_alive(run_dir):
        summary.state = "interrupted"  # its process died since its last event
    return summary


# --- the process that does the work -----------------------------------------------------------


class Reporter:
    """Appends events and answers the training loop's ``should_stop`` (holding it there while
    the run is paused)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.events = open(run_dir / EVENTS, "a", encoding="utf-8")
        self.last_step_event = 0.0
        self.first_step: tuple[float, int] | None = None
        self.command = "run"
        self.told_device = ""  # what training runs on, as last reported

    def close(self) -> None:
        self.events.close()

    def emit(self, kind: EventKind, **fields) -> None:
        event = RunEvent(kind, time=time.time(), **fields)
        self.events.write(json.dumps(event.to_json()) + "\n")
        self.events.flush()

    def status(self, message: str) -> None:
        self.emit(EventKind.STATUS, message=message)

    def progress(self, progress) -> None:
        """The training loop's progress callback."""
        now = time.monotonic()
        if progress.device and progress.device != self.told_device:
            self.told_device = progress.device
            self.emit(EventKind.STATUS, device=progress.device)
        if progress.event == "step":
            if self.first_step is None:
                self.first_step = (now, progress.step - 1)
            if now - self.last_step_event < STEP_EVENT_SECONDS and progress.step != progress.total_steps:
                return
            self.last_step_event = now
            started, first = self.first_step
            rate = (progress.step - first) / (now - started) if now > started else None
            self.emit(
                EventKind.STEP,
                step=progress.step,
                total=progress.total_steps,
                loss=progress.loss,
                lr=progress.lr,
                steps_per_s=rate,
                eta=progress.eta,
            )
        elif progress.event == "validation" and progress.step == 0:  # the base model, before training
            self.emit(EventKind.BASE, cer=progress.metric, message=f"base model: validation CER {progress.metric:.2%}")
        elif progress.event == "validation":
            self.emit(EventKind.VALIDATION, step=progress.step, cer=progress.metric, best=progress.best_metric)

    def _read_command(self) -> str:
        self.command = read_control(self.run_dir) or self.command  # unreadable: no change
        return self.command

    def should_stop(self) -> bool:
        if self._read_command() == "pause":
            self.emit(EventKind.PAUSED, message="paused")
            while self._read_command() == "pause":
                time.sleep(0.2)
            if self.command == "run":
                self.emit(EventKind.RESUMED, message="resumed")
                self.first_step = None  # the pause is not training time
        return self.command == "stop"


def lines_message(done: int, total: int) -> str:
    """What finding the lines of an archive is doing: ``done`` page files of ``total`` read."""
    if done < total:
        return f"finding lines: page file {done + 1} of {total}"
    return f"lines found in all {total} page files"


def _run_pretrain(spec: RunSpec, work: Path, reporter: Reporter) -> dict | None:
    from mspt_core.data.linestore import LineStore, build_line_store
    from mspt_core.model import config_for
    from mspt_core.presets import pretrain_preset
    from mspt_core.pretrain import pretrain_encoder

    method, settings = pretrain_preset(spec.preset, **spec.method)
    settings = replace(settings, **spec.loop, device=spec.device)
    store_dir = work / "lines"
    if not LineStore.is_store(store_dir):
        reporter.emit(EventKind.PHASE, phase="lines", message="finding the lines of the archive")
        store, skipped = build_line_store(
            [Path(p) for p in spec.archive],
            store_dir,
            config_for(method.size).height,
            on_file=lambda done, total: reporter.emit(
                EventKind.LINES, done=done, total=total, message=lines_message(done, total)
            ),
            should_stop=reporter.should_stop,
        )
        if store is None:
            return None
        reporter.status(f"{len(store)} lines found ({len(skipped)} skipped)")
    store = LineStore(store_dir)
    if reporter.should_stop():
        return None
    reporter.emit(EventKind.PHASE, phase="training", message=f"pre-training on {len(store)} lines")
    outcome = pretrain_encoder(
        store,
        work / "train",
        method,
        settings,
        on_progress=reporter.progress,
        should_stop=reporter.should_stop,
        on_status=reporter.status,
        # What a person chose, not the run folder's line store.
        data_description=spec.description or "page images of " + "; ".join(spec.archive),
    )
    if outcome.encoder_path is None:
        return None
    name = _install(outcome.encoder_path, spec.name)
    return {"model": name, "kind": "encoder", "lines": len(store), "steps": outcome.result.step}


def _lines(paths: list[str], height: int):
    from mspt_core.data.lines import load_lines

    return load_lines([Path(p) for p in paths], height)


def _run_finetune(spec: RunSpec, work: Path, reporter: Reporter) -> dict | None:
    from mspt_core.data.lines import split_off_validation, validation_warning
    from mspt_core.models import read_metadata, resolve
    from mspt_core.train.finetune import finetune_recognizer
    from mspt_core.train.supervised import KEPT_BASE, train_recognizer, widths_as_read

    base = resolve(spec.base)
    meta = read_metadata(base)
    base_kind = meta.get("kind", "recognizer")
    preset = spec.finetune_preset(base_kind)
    settings = preset.settings(device=spec.device)
    height = meta["line_height"]
    reporter.emit(EventKind.PHASE, phase="lines", message="cutting out the training lines")
    train_set = _lines(spec.train, height)
    if spec.val:
        val_set = _lines(spec.val, height)
    else:
        train_set, val_set = split_off_validation(train_set, spec.val_fraction, settings.seed)
    reporter.status(
        f"{len(train_set)} training lines, {len(val_set)} validation lines ({len(train_set.skipped)} skipped)"
    )
    warning = validation_warning(val_set)
    if warning:
        reporter.emit(EventKind.WARNING, message=f"Warning: {warning}")
    if reporter.should_stop():  # a pause or stop asked for while the lines were cut out
        return None
    reporter.emit(EventKind.PHASE, phase="training", message=f"fine-tuning on {len(train_set)} lines")
    common: dict[str, Any] = dict(
        on_progress=reporter.progress,
        should_stop=reporter.should_stop,
        data_description=spec.description,
        use_augmentation=preset.augment,
    )
    if base_kind == "encoder":
        outcome = finetune_recognizer(
            train_set,
            val_set,
            work / "train",
            settings,
            base,
            encoder_lr_scale=preset.encoder_lr_scale,
            freeze_steps=preset.freeze_steps,
            **common,
        )
    else:
        outcome = train_recognizer(
            train_set,
            val_set,
            work / "train",
            settings,
            base_model=base,
            tuned_share=preset.tuned_share,
            encoder_lr_scale=preset.encoder_lr_scale,
            train_widths=widths_as_read(preset.widths_as_read, base),
            **common,
        )
    if outcome.result.status == "cancelled":
        return None
    # A recognizer base was validated by the loop before the first step (step 0), the same
    # arithmetic as the trained weights; a resumed run has that record in its checkpoint.
    base_cer = outcome.result.start_metric
    result: dict[str, Any] = {
        "model": None,
        "kind": "recognizer",
        "base": spec.base,
        "base_cer": base_cer,
        "new_cer": outcome.tuned_cer,
        "best_step": outcome.result.best_step,
        "train_lines": len(train_set),
        "val_lines": len(val_set),
        "steps": outcome.result.step,
        # The kept model blended back toward the base: share, its validation CER, handed back or not.
        "blend": asdict(outcome.blend) if outcome.blend else None,
    }
    if outcome.kept_base:  # nothing better than the base: no copy of it under a new name
        return dict(result, kept_base=True, summary=f"{KEPT_BASE} {spec.base!r}")
    return dict(result, model=_install(outcome.model_path, spec.name))


def _run_adapt(spec: RunSpec, work: Path, reporter: Reporter) -> dict | None:
    """Self-training (``train.self_training.adapt``): the base reads the lines of ``spec.train``
    (their texts unused) and learns from the surest share of its readings; the last weights are
    the model."""
    from mspt_core.data.lines import LineSet, lines_from_page_xml
    from mspt_core.errors import DataError
    from mspt_core.models import read_metadata, resolve
    from mspt_core.presets import SELF_TRAINING, SUREST_SHARE, training_preset
    from mspt_core.train.self_training import adapt

    base = resolve(spec.base)
    settings = training_preset(SELF_TRAINING).settings(device=spec.device, **spec.loop)
    reporter.emit(EventKind.PHASE, phase="lines", message="cutting out the lines")
    height, lines = read_metadata(base)["line_height"], LineSet()
    for page in spec.train:  # the snapshot's PAGE files (``project.snapshot.write_uncorrected_pages``)
        lines.extend(lines_from_page_xml(Path(page), height, require_text=False))
    if not lines.samples:
        raise DataError(f"no line could be cut from the pages ({len(lines.skipped)} skipped)")

    def say(kind: str, message: str) -> None:
        if kind == "warning":
            reporter.emit(EventKind.WARNING, message=f"Warning: {message}")
        elif kind == "reading":
            reporter.emit(EventKind.PHASE, phase="reading", message=message)
        else:
            reporter.status(f"{message} ({len(lines.skipped)} skipped)")
            reporter.emit(EventKind.PHASE, phase="training", message="adapting to its surest readings")

    outcome, kept = adapt(
        lines,
        base,
        work / "train",
        settings,
        share=SUREST_SHARE if spec.share is None else spec.share,
        of=spec.description,
        device=spec.device,
        say=say,
        on_progress=reporter.progress,
        should_stop=reporter.should_stop,
    )
    if outcome.result.status == "cancelled":
        return None
    return {
        "model": _install(outcome.model_path, spec.name),
        "kind": "recognizer",
        "adapted": True,  # no validation: nothing corrected to check against
        "base": spec.base,
        "lines": len(lines),
        "learned_lines": len(kept),
        "steps": outcome.result.step,
    }


def _install(model_path: Path, name: str) -> str:
    """Put the trained model into the registry under ``name`` (or ``name-2``… if taken; a
    name no file system takes is made usable rather than losing the model)."""
    from mspt_core.models import import_model, list_models, usable_name

    name = usable_name(name, "model")
    taken = {entry.name for entry in list_models()}
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}-{number}"
    return import_model(model_path, candidate).name


def execute(run_dir: Path) -> str:
    """Do the run in this process; returns how it ended: "finished", "cancelled", "failed", or
    "busy" when another process is already working on it."""
    run_dir = Path(run_dir)
    lock = locks.FolderLock(run_dir / LOCK)
    if not lock.acquire():
        print(f"{run_dir}: another process is working on this run", file=sys.stderr)
        return "busy"
    work = run_dir / WORK
    work.mkdir(exist_ok=True)
    reporter = Reporter(run_dir)
    try:
        spec = read_spec(run_dir)  # a bad spec ends the run with its message, like any failure
        if spec.threads:
            import torch

            torch.set_num_threads(spec.threads)
        from mspt_core.devices import pick_device

        # The precision is the training loop's to choose (a resumed run keeps its own): it tells
        # it, with the device, when training begins (``Reporter.progress``).
        reporter.emit(EventKind.STARTED, pid=os.getpid(), device=str(pick_device(spec.device)), message="started")
        result = {"pretrain": _run_pretrain, "finetune": _run_finetune, "adapt": _run_adapt}[spec.kind](
            spec, work, reporter
        )
        if result is None:
            reporter.emit(EventKind.END, status="cancelled", message="stopped at a checkpoint; it can be resumed")
            return "cancelled"
        atomic_write(run_dir / RESULT, json.dumps(result, indent=1).encode("utf-8"))
        said = result.get("summary") or f"model {result['model']!r}"
        reporter.emit(EventKind.END, status="finished", message=f"finished: {said}", result=result)
        return "finished"
    except Exception as error:  # the app shows the message; the log keeps the trace
        traceback.print_exc()
        reporter.emit(EventKind.END, status="failed", message=f"{type(error).__name__}: {error}")
        return "failed"
    finally:
        reporter.close()
        lock.release()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mspt_core.train.runs RUN_FOLDER", file=sys.stderr)
        return 2
    return {"finished": 0, "cancelled": 3, "busy": 4}.get(execute(Path(args[0])), 1)


if __name__ == "__main__":
    sys.exit(main())
