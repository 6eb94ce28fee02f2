"""What a training run is told and what it says: the contract between whoever starts a run (the
app's wizards, tests) and the process that does it (``mspt_core.train.runs``). Both travel as
JSON in the run folder (``run.json``, ``events.jsonl``); here they are typed and checked once,
where they are read, so neither side reads a dict with defaults scattered through its code.

Plain data only (no torch, no Qt)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

from mspt_core.presets import DEFAULT_PRETRAIN_PRESET, ENCODER, FINETUNE, PRETRAIN_PRESETS, TrainingPreset
from mspt_core.pretrain.settings import PretrainSettings
from mspt_core.train.settings import TrainSettings

KINDS = ("pretrain", "finetune", "adapt")
LOOP_FIELDS = frozenset(f.name for f in fields(TrainSettings)) - {"device"}
METHOD_FIELDS = frozenset(f.name for f in fields(PretrainSettings))


class RunSpecError(ValueError):
    """A run.json that cannot be run; the message names the setting."""


@dataclass
class RunSpec:
    kind: str  # "pretrain", "finetune" or "adapt" (self-training on pages nobody corrected)
    name: str  # of the model the run installs
    device: str = "auto"
    threads: int | None = None  # torch threads in the run's process; None: torch's choice
    loop: dict[str, Any] = field(default_factory=dict)  # TrainSettings fields over the preset's
    # pre-training
    archive: list[str] = field(default_factory=list)  # page scans, ALTO/PAGE, line images, folders
    preset: str = DEFAULT_PRETRAIN_PRESET
    method: dict[str, Any] = field(default_factory=dict)  # PretrainSettings fields over the preset's
    # fine-tuning; adapting: a recognizer, and PAGE files whose lines it reads (texts unused)
    base: str | None = None  # a recognizer (fine-tuned) or a pre-trained encoder (new head)
    train: list[str] = field(default_factory=list)  # ALTO/PAGE files, line images, folders
    share: float | None = None  # adapting: the surest share of its readings learned from; None: the preset's
    val: list[str] = field(default_factory=list)  # empty: val_fraction of the train lines
    val_fraction: float = 0.1
    encoder_lr_scale: float | None = None  # None: the preset's
    freeze_steps: int | None = None  # None: the preset's
    augment: bool | None = None  # None: the preset's
    tuned_share: float | None = None  # None: the preset's (a recognizer base only)
    description: str = ""  # what the lines are, for the model's provenance
    project: str = ""  # the project folder whose corrected lines were snapshotted, if any
    project_pages: list[str] = field(default_factory=list)  # ids of its pages trained on
    created: float | None = None  # seconds since the epoch

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise RunSpecError(f"a run's kind is 'pretrain', 'finetune' or 'adapt', not {self.kind!r}")
        _check(isinstance(self.name, str) and self.name.strip() != "", "name", "a model name")
        _check(isinstance(self.device, str), "device", "a device name")
        _check(self.threads is None or _whole(self.threads, 1), "threads", "a whole number of at least 1")
        _check(isinstance(self.loop, dict) and set(self.loop) <= LOOP_FIELDS, "loop", _keys_of(LOOP_FIELDS))
        _check(isinstance(self.method, dict) and set(self.method) <= METHOD_FIELDS, "method", _keys_of(METHOD_FIELDS))
        for name, settings in (("loop", TrainSettings), ("method", PretrainSettings)):
            try:
                settings(**getattr(self, name))  # the values, checked now rather than mid-run
            except (TypeError, ValueError) as error:
                raise RunSpecError(f"run.json: {name!r}: {error}") from error
        for name in ("archive", "train", "val"):
            value = getattr(self, name)
            _check(isinstance(value, list) and all(isinstance(p, str) for p in value), name, "a list of paths")
        _check(self.preset in PRETRAIN_PRESETS, "preset", f"one of {', '.join(PRETRAIN_PRESETS)}")
        _check(self.base is None or isinstance(self.base, str), "base", "a model name or path")
        _check(self.kind == "pretrain" or bool(self.base), "base", "the model to start from")
        _check(self.share is None or (_number(self.share) and 0 < self.share <= 1), "share", "above 0, at most 1")
        _check(_number(self.val_fraction) and 0 < self.val_fraction < 1, "val_fraction", "between 0 and 1")
        lr_scale = self.encoder_lr_scale
        _check(lr_scale is None or (_number(lr_scale) and lr_scale >= 0), "encoder_lr_scale", "a number >= 0")
        _check(self.freeze_steps is None or _whole(self.freeze_steps, 0), "freeze_steps", "a whole number >= 0")
        _check(self.augment is None or isinstance(self.augment, bool), "augment", "true or false")
        share = self.tuned_share
        _check(share is None or (_number(share) and 0 <= share <= 1), "tuned_share", "a number from 0 to 1")
        _check(isinstance(self.description, str), "description", "text")
        _check(isinstance(self.project, str), "project", "a folder")
        ids = self.project_pages
        _check(isinstance(ids, list) and all(isinstance(i, str) for i in ids), "project_pages", "a list of page ids")
        _check(self.created is None or _number(self.created), "created", "a time")

    @classmethod
    def from_json(cls, raw: object) -> RunSpec:
        if not isinstance(raw, dict):
            raise RunSpecError("run.json does not hold a JSON object")
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise RunSpecError(f"run.json: unknown setting {sorted(unknown)[0]!r}")
        if "kind" not in raw or "name" not in raw:
            raise RunSpecError("run.json: 'kind' and 'name' are needed")
        try:
            return cls(**raw)
        except TypeError as error:  # a value of the wrong type where a comparison needs a number
            raise RunSpecError(f"run.json: {error}") from error

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def finetune_preset(self, base_kind: str) -> TrainingPreset:
        """The fine-tuning preset for a base of this kind ("recognizer" or "encoder"), with this
        spec's own encoder settings over it."""
        from dataclasses import replace

        from mspt_core.presets import training_preset

        chosen = training_preset(ENCODER if base_kind == "encoder" else FINETUNE)
        return replace(
            chosen,
            loop={**chosen.loop, **self.loop},
            encoder_lr_scale=chosen.encoder_lr_scale if self.encoder_lr_scale is None else self.encoder_lr_scale,
            freeze_steps=chosen.freeze_steps if self.freeze_steps is None else self.freeze_steps,
            augment=chosen.augment if self.augment is None else self.augment,
            tuned_share=chosen.tuned_share if self.tuned_share is None else self.tuned_share,
        )


def _check(ok: bool, name: str, expected: str) -> None:
    if not ok:
        raise RunSpecError(f"run.json: {name!r} must be {expected}")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _keys_of(allowed: frozenset[str]) -> str:
    return f"an object with keys among {', '.join(sorted(allowed))}"


# --- events ------------------------------------------------------------------------------------


class EventKind(str, Enum):
    STARTED = "started"  # the process began (pid, device)
    RESUMED = "resumed"  # a pause ended
    PAUSED = "paused"
    PHASE = "phase"  # a new part of the work began (phase: "lines", "reading" or "training")
    LINES = "lines"  # finding lines: page file ``done`` of ``total``
    STATUS = "status"  # a message worth showing, or what training runs on (device, e.g. "cpu (bf16)")
    WARNING = "warning"  # a message the user must see (e.g. too few validation lines)
    BASE = "base"  # the base model's validation CER, before fine-tuning
    STEP = "step"  # training progress (thinned to a few a second)
    VALIDATION = "validation"  # a validation CER
    END = "end"  # the run ended: status "finished", "cancelled" or "failed"


@dataclass(frozen=True)
class RunEvent:
    kind: EventKind
    time: float = 0.0
    message: str = ""
    step: int | None = None
    total: int | None = None
    done: int | None = None
    loss: float | None = None
    lr: float | None = None
    steps_per_s: float | None = None
    eta: float | None = None  # seconds
    cer: float | None = None
    best: float | None = None
    status: str | None = None
    phase: str | None = None
    device: str | None = None
    pid: int | None = None
    result: dict | None = None

    @classmethod
    def from_json(cls, raw: object) -> RunEvent | None:
        """The event of one line of events.jsonl; None for a line this version cannot read (a
        kind from a newer mspt, a torn line)."""
        if not isinstance(raw, dict):
            return None
        try:
            kind = EventKind(raw.get("event"))
        except ValueError:
            return None
        known = {f.name for f in fields(cls)} - {"kind"}
        return cls(kind, **{k: v for k, v in raw.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        values = {k: v for k, v in asdict(self).items() if k != "kind" and v not in (None, "")}
        return {"event": self.kind.value, **values}
