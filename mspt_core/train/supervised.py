"""Supervised line recognition training (CTC or decoder head), from scratch or from a base
model whose charset is extended with the new data's characters. The CLI's ``mspt train`` and
the app's fine-tuning runs call ``train_recognizer``.

From a base model, the base is the first candidate of keep-best: it is validated before the
first step (step 0), and when no later validation beats it the run's model is the base itself,
copied as it is (``TrainOutcome.kept_base``, ``KEPT_BASE``). Fine-tuning never hands back a
model that reads the validation lines worse than the model it started from.

With ``tuned_share`` below 1 (the few-pages preset), the kept weights are then blended back
toward the base's (``mspt_core.train.blend``): a model fine-tuned on a few pages of one hand
forgets less of the others that way. The blend is written beside the kept model (``BLEND``; the
kept model stays as it is) and handed back when it reads the validation lines better than the
base did; its metadata says so (``BLENDED``), and ``TrainOutcome.blend`` says what happened.

With ``select_blended`` as well (a training round of a bundled model), every validation reads
the weights blended toward the base at ``tuned_share`` instead, and keep-best keeps that blend:
the run selects the step whose blend reads best, not the step that reads best unblended and then
a blend of it. A round whose steps are noisy around a better point than each of them (RESULTS.md,
"Weights averaged over the steps…") is read where it is best that way. No blend follows."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mspt_core.charset import Charset
from mspt_core.data.augment import augment, checked_strength
from mspt_core.data.batching import collate, width_batches
from mspt_core.data.lines import LineSet
from mspt_core.devices import pick_device
from mspt_core.errors import DataError
from mspt_core.metrics import cer
from mspt_core.model import Recognizer, config_for
from mspt_core.models import LoadedModel, build_metadata, copy_model, load_model, read_metadata, save_model
from mspt_core.recognize import (
    READING_SETTINGS,
    WIDTH_SCALES,
    LineRecognizer,
    end_margin_pixels,
    widened,
    width_scale,
    with_end_margins,
)
from mspt_core.train.blend import blend_with_base
from mspt_core.train.loop import Progress, TrainResult, TrainSettings, train
from mspt_core.train.settings import AS_CUT

BEST = "best"  # model folder inside the run directory
KEPT_BASE = "no improvement over the base model: keeping the base"
BLEND = "blended"  # folder of the kept model blended back toward the base, inside the run directory
BLENDED = "blended_with_base"  # metadata key of a blended model: the tuned share


class RecognitionJob:
    def __init__(
        self,
        model: Recognizer,
        charset: Charset,
        train_set: LineSet,
        val_set: LineSet | None,
        settings: TrainSettings,
        run_dir: Path,
        provenance: dict,
        use_augmentation: bool = True,
        base_file: Path | None = None,
        encoder_lr_scale: float = 1.0,
        train_widths: tuple[float, float] = AS_CUT,
        augment_strength: float = 1.0,
    ):
        self.model = model
        self.charset = charset
        self.train_set = train_set
        self.val_set = val_set
        self.settings = settings
        self.run_dir = run_dir
        self.provenance = dict(provenance)  # own copy: the loop adds the precision it trains in
        self.use_augmentation = use_augmentation
        self.base_file = base_file  # a recognizer the run starts from: keep-best's step 0
        self.encoder_lr_scale = encoder_lr_scale
        # A fine-tuned model reads as its base does: its language model, fused as for the base,
        # its end margins, its widening and its shifted reads (validation reads so too).
        base_metadata = read_metadata(base_file) if base_file else {}
        self.language_model = base_metadata.get("language_model")
        self.reading = {key: base_metadata[key] for key in READING_SETTINGS if key in base_metadata}
        # Training sees the lines with the paper reading adds at their ends, stretched across
        # by a factor drawn from ``train_widths`` (as cut by default), the paper with them:
        # reading adds it after widening, so training varies it a little (4-5 px at 1.3).
        self.margin = end_margin_pixels(self.reading, model.config.height)
        self.train_widths = train_widths
        self.augment_strength = augment_strength  # how far augmentation moves the writing's shape
        self.targets = [charset.encode(text) for text in train_set.texts]
        self.widths = [img.shape[1] for img in train_set.images]
        # Set by ``blend_toward``: validation and keep-best read the weights blended toward it.
        self.blend_reference: Recognizer | None = None
        self.blend_share = 1.0
        self.blend_base_classes = 0

    def blend_toward(self, reference: Recognizer, tuned_share: float, base_classes: int) -> None:
        """Validate, and keep, the weights blended toward ``reference`` (the base, its alphabet
        extended as the model's was) at ``tuned_share`` (``blend.blend_with_base``)."""
        self.blend_reference, self.blend_share, self.blend_base_classes = reference, tuned_share, base_classes

    @contextmanager
    def _blended(self) -> Iterator[None]:
        """The model's weights blended toward the reference while inside; as trained after."""
        if self.blend_reference is None:
            yield
            return
        trained = {key: value.clone() for key, value in self.model.state_dict().items()}
        blend_with_base(self.model, self.blend_reference, self.blend_share, self.blend_base_classes)
        try:
            yield
        finally:
            self.model.load_state_dict(trained)

    def trains_in(self, precision: str) -> None:
        self.provenance["precision"] = precision  # "bf16" or "full", as the loop trains

    def resume_record(self) -> dict:
        """What a resumed run must train with as it started (``loop``): its lines' widths and
        how strongly they are augmented (each left out at its default, as runs made before it)."""
        return batch_settings(self.train_widths, self.augment_strength)

    def validation_record(self) -> dict:
        """How a resumed run must validate as it started (``loop``): blended toward the base or not."""
        return {} if self.blend_reference is None else {"blended_toward_base": self.blend_share}

    def data_record(self) -> dict:
        """What a resumed run must learn from as it started (``loop``): the same training and
        validation lines."""
        val = self.val_set or LineSet()
        return {
            "lines": len(self.train_set),
            "val_lines": len(val),
            "sha256": f"{self.train_set.fingerprint()} {val.fingerprint()}",
        }

    def param_groups(self) -> list[dict]:
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if self.encoder_lr_scale == 1.0:
            # one group, as runs made before the scale existed hold in their checkpoints
            return [{"params": trainable, "lr_scale": 1.0}]
        encoder = {id(p) for p in self.model.encoder.parameters()}
        return [  # the head's first: progress reports the first group's rate
            {"params": [p for p in trainable if id(p) not in encoder], "lr_scale": 1.0},
            {"params": [p for p in trainable if id(p) in encoder], "lr_scale": self.encoder_lr_scale},
        ]

    def epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        return width_batches(self.widths, self.settings.batch_size, rng)

    def loss(self, batch: list[int], rng: np.random.Generator, device: torch.device) -> torch.Tensor:
        images = [with_end_margins(self.train_set.samples[i].image, self.margin) for i in batch]
        if self.train_widths != AS_CUT:
            images = [widened(img, float(rng.uniform(*self.train_widths))) for img in images]
        if self.use_augmentation:
            images = [augment(img, rng, self.augment_strength) for img in images]
        pixels, widths = collate(images)
        targets = torch.tensor([t for i in batch for t in self.targets[i]], dtype=torch.long)
        lengths = torch.tensor([len(self.targets[i]) for i in batch], dtype=torch.long)
        return self.model.loss(pixels.to(device), widths.to(device), targets.to(device), lengths.to(device))

    def validate(self, device: torch.device) -> float | None:
        if not self.val_set:
            return None
        # PyTorch: the weights change between validations, an ONNX export would be stale.
        loaded = LoadedModel(self.model, self.charset, dict(self.reading))
        reader = LineRecognizer(loaded, device=str(device), engine="torch")
        with self._blended():
            return lines_cer(reader, self.val_set)

    def save_best(self, metric: float | None, step: int) -> None:
        if step == 0 and self.base_file is not None:
            # The base as its file holds it (alphabet not extended, its own inference settings),
            # so a kept base reads exactly as the base does.
            meta = read_metadata(self.base_file)
            kept = dict(self.provenance, val_cer=metric)
            provenance = {**(meta.get("provenance") or {}), "kept_over_fine_tuning": kept}
            copy_model(self.base_file, self.run_dir / BEST, dict(meta, name=self.run_dir.name, provenance=provenance))
            return
        provenance = dict(self.provenance, steps=step, val_cer=metric)
        metadata = build_metadata(self.model, self.charset, self.run_dir.name, provenance)
        if self.language_model:
            metadata["language_model"] = self.language_model
        metadata.update(self.reading)
        if self.blend_reference is not None:
            metadata[BLENDED] = self.blend_share
        with self._blended():
            save_model(self.run_dir / BEST, self.model, self.charset, metadata)


@dataclass
class BlendOutcome:
    share: float  # of the tuned weights
    val_cer: float | None  # the blend's; None without validation lines
    kept: bool  # False: it read the validation lines no better than the base; the unblended stays


@dataclass
class TrainOutcome:
    result: TrainResult
    model_path: Path  # the best (or, without validation data, the last) model
    charset: Charset
    added_chars: list[str]
    blend: BlendOutcome | None = None  # where the kept model was blended back toward the base

    @property
    def kept_base(self) -> bool:
        """Training from a base model ended (not stopped to be resumed) without beating it on
        the validation lines: ``model_path`` is a copy of the base."""
        return self.result.kept_start and self.result.status != "cancelled"

    @property
    def tuned_cer(self) -> float | None:
        """The validation CER of the trained model: the kept blend's, or the best of the trained
        weights (after step 0; blended, where the run selected blends), kept or not."""
        if self.blend is not None and self.blend.kept and self.blend.val_cer is not None:
            return self.blend.val_cer
        cers = [h["val"] for h in self.result.history if "val" in h and h["step"] > 0]
        return min(cers) if cers else None


def lines_cer(reader: LineRecognizer, lines: LineSet) -> float:
    """Character error rate of a reader on labelled lines."""
    return cer(lines.texts, [r.text for r in reader.read(lines.images)])


def train_recognizer(
    train_set: LineSet,
    val_set: LineSet | None,
    run_dir: Path,
    settings: TrainSettings,
    size: str = "small",
    head: str = "ctc",
    base_model: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = True,
    data_description: str = "",
    use_augmentation: bool = True,
    tuned_share: float = 1.0,
    encoder_lr_scale: float = 1.0,
    train_widths: tuple[float, float] = AS_CUT,
    select_blended: bool = False,
    augment_strength: float = 1.0,
) -> TrainOutcome:
    """``tuned_share``: from a base model, blend the kept weights this far from the base's
    toward the trained ones (1: not at all; see the module's docstring); with
    ``select_blended``, every validation reads, and keep-best keeps, the blend instead (a
    ``tuned_share`` below 1 and a base model needed). ``encoder_lr_scale``:
    the encoder (front end and transformer) learns at this fraction of the learning rate, the
    reading head at all of it (0: the encoder's weights stay; its BatchNorm statistics still
    follow the batches). ``train_widths``: each training line is stretched across by a factor
    drawn evenly from this range (as cut by default; see ``recognize.widened``).
    ``augment_strength``: how far augmentation moves the shape of the writing
    (``data.augment``; 1, the default, as every run trained before it)."""
    if not train_set.samples:
        raise DataError("no training lines")
    if not 0.0 <= tuned_share <= 1.0:
        raise ValueError(f"tuned_share must lie in [0, 1], not {tuned_share}")
    if select_blended and (base_model is None or not 0.0 < tuned_share < 1.0):
        raise ValueError("select_blended blends toward a base model: it needs one, and tuned_share between 0 and 1")
    check_encoder_lr_scale(encoder_lr_scale)
    train_widths = checked_train_widths(train_widths)
    augment_strength = checked_strength(augment_strength)
    if augment_strength != 1.0 and not use_augmentation:
        raise ValueError("an augmentation strength needs augmentation: without it the lines are trained on as they are")
    run_dir = Path(run_dir)
    torch.manual_seed(settings.seed)  # same seed, same initial weights
    added: list[str] = []
    if base_model is not None:
        base = load_model(base_model)
        if base.metadata.get("kind", "recognizer") != "recognizer":
            raise DataError(f"{base_model} is a pre-trained encoder; fine-tune it with `mspt finetune`")
        base, added = base.extended_for(train_set.texts)
        charset, model = base.charset, base.model
    else:
        charset = Charset.from_texts(train_set.texts)
        model = Recognizer(config_for(size, head=head), len(charset))
    provenance = {
        **data_provenance(train_set, val_set, data_description),
        "base_model": str(base_model) if base_model else None,
        "added_chars": "".join(added),
        "settings": loop_provenance(
            settings,
            size=size if base_model is None else None,
            head=model.config.head,
            encoder_lr_scale=encoder_lr_scale,
            **batch_settings(train_widths, augment_strength),
            **({"tuned_share": tuned_share} if tuned_share < 1.0 else {}),
            **({"select_blended": True} if select_blended else {}),
        ),
    }
    job = RecognitionJob(
        model,
        charset,
        train_set,
        val_set,
        settings,
        run_dir,
        provenance,
        use_augmentation,
        base_file=base_model,
        encoder_lr_scale=encoder_lr_scale,
        train_widths=train_widths,
        augment_strength=augment_strength,
    )
    if select_blended and base_model is not None:  # checked above; said again for the type checker
        reference, _ = load_model(base_model).extended_for(train_set.texts)
        job.blend_toward(reference.model, tuned_share, len(charset) - len(added))
        tuned_share = 1.0  # the kept model is the blend already
    outcome = run_recognition_job(job, on_progress, should_stop, resume, added)
    if base_model is not None and tuned_share < 1.0 and outcome.result.status != "cancelled" and not outcome.kept_base:
        outcome.blend = blend_kept_with_base(outcome, job, base_model, tuned_share)
        if outcome.blend.kept:
            outcome.model_path = job.run_dir / BLEND
    return outcome


def blend_kept_with_base(
    outcome: TrainOutcome, job: RecognitionJob, base_model: Path, tuned_share: float
) -> BlendOutcome:
    """Blend the run's kept model with the base into ``BLEND``, kept where it reads the
    validation lines better than the base (step 0) did, as the kept model had to. A blend already
    made from the same kept model at the same share is reused (a finished run asked again)."""
    kept = load_model(outcome.model_path)
    if BLENDED in kept.metadata:  # kept by a run that selected blends (resumed from before its record)
        raise ValueError(f"{outcome.model_path} is a blend toward the base already: not blended again")
    provenance = kept.metadata.get("provenance") or {}
    target = job.run_dir / BLEND
    if target.exists():
        made = read_metadata(target)
        if made.get(BLENDED) == tuned_share and made["provenance"].get("steps") == provenance.get("steps"):
            return BlendOutcome(tuned_share, made["provenance"].get("val_cer"), kept=True)
        shutil.rmtree(target)  # from another share or an earlier best
    base = load_model(base_model)
    base_classes = len(base.charset)
    reference, _ = base.extended_for(kept.charset.chars[len(base.charset.chars) :])
    if reference.charset.chars != kept.charset.chars:
        raise ValueError(f"{outcome.model_path}: its alphabet does not extend its base's")
    blend_with_base(kept.model, reference.model, tuned_share, base_classes)
    blended_cer = None
    if job.val_set:
        job.model.load_state_dict(kept.model.state_dict())  # the run is over: read as its validations did
        blended_cer = job.validate(pick_device(job.settings.device))
        base_cer = outcome.result.start_metric
        if base_cer is not None and blended_cer is not None and blended_cer >= base_cer:
            return BlendOutcome(tuned_share, blended_cer, kept=False)
    metadata = dict(
        kept.metadata,
        provenance=dict(provenance, val_cer=blended_cer, val_cer_unblended=provenance.get("val_cer")),
        **{BLENDED: tuned_share},
    )
    save_model(target, kept.model, kept.charset, metadata)
    return BlendOutcome(tuned_share, blended_cer, kept=True)


def check_encoder_lr_scale(value: float) -> None:
    """The share of the learning rate an encoder may learn at: a number, 0 (frozen) or more."""
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"encoder_lr_scale must be a number of 0 or more, not {value}")


def widths_as_read(relative: tuple[float, float], base_model: Path | None) -> tuple[float, float]:
    """Training widths as factors of the width cut, from ``relative`` factors of the width
    ``base_model`` reads its lines at (its file's ``width_scale``; 1 without a base): the presets
    say how wide a model learns from its lines as a share of how wide its base reads them. A
    product outside ``recognize.WIDTH_SCALES`` is refused (``ValueError``)."""
    scale = width_scale(read_metadata(base_model)) if base_model is not None else 1.0
    low, high = relative
    return checked_train_widths((round(low * scale, 4), round(high * scale, 4)))


def batch_settings(train_widths: tuple[float, float], augment_strength: float) -> dict:
    """How a run's training lines are stretched and augmented, for its checkpoints and model file:
    each setting left out at its default, as runs made before it recorded none."""
    return {
        **({} if train_widths == AS_CUT else {"train_widths": list(train_widths)}),
        **({} if augment_strength == 1.0 else {"augment_strength": augment_strength}),
    }


def checked_train_widths(widths) -> tuple[float, float]:
    """A range of factors training lines may be stretched across by: two numbers, low <= high,
    within the widths a model file may read at (``recognize.WIDTH_SCALES``)."""
    try:
        low, high = (float(w) for w in widths)
    except (TypeError, ValueError):
        raise ValueError(f"train_widths must be two numbers, low and high, not {widths!r}") from None
    least, most = WIDTH_SCALES
    if not (math.isfinite(low) and math.isfinite(high) and least <= low <= high <= most):
        raise ValueError(f"train_widths must satisfy {least:g} <= low <= high <= {most:g}, not {low:g}, {high:g}")
    return low, high


def loop_provenance(settings: TrainSettings, **more) -> dict:
    """How a recognizer was trained, for its model file: the loop's settings and ``more``."""
    return {
        "steps": settings.steps,
        "batch_size": settings.batch_size,
        "lr": settings.lr,
        "seed": settings.seed,
        **({"ema_decay": settings.ema_decay} if settings.ema_decay else {}),
        **more,
    }


def data_provenance(train_set: LineSet, val_set: LineSet | None, data_description: str) -> dict:
    """What a recognizer was trained on, for its model file."""
    return {
        "train_lines": len(train_set),
        "val_lines": len(val_set) if val_set else 0,
        "skipped_lines": len(train_set.skipped),
        "data": data_description,
    }


def run_recognition_job(
    job: RecognitionJob,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    resume: bool,
    added_chars: list[str],
) -> TrainOutcome:
    """Run ``job`` on the loop; without validation data the last weights become the model."""
    start_is_candidate = job.base_file is not None
    result = train(job, job.settings, job.run_dir, on_progress, should_stop, resume, start_is_candidate)
    if result.best_metric is None and result.status != "cancelled":
        job.save_best(None, result.step)
    return TrainOutcome(result, job.run_dir / BEST, job.charset, added_chars)
