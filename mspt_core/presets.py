"""Named starting points for every kind of training: the one home of their defaults. The CLI,
the wizards, the run process, the recipes and the benchmarks take theirs from here, so a person
only has to choose the data; every value can still be overridden one by one (CLI options, the
wizards' advanced pages, or ``dataclasses.replace``).

Plain data only (no torch), so ``mspt --help`` can list the presets quickly."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mspt_core.pretrain.settings import PretrainSettings
from mspt_core.train.settings import AS_READ, TrainSettings

# --- masked pre-training -------------------------------------------------------------------------


@dataclass(frozen=True)
class PretrainPreset:
    description: str
    method: PretrainSettings
    loop: dict  # TrainSettings fields


# Every preset clusters the bundled default model's front-end features and weighs visible tokens
# with w = 1: both won on val in our ablation (benchmarks/RESULTS.md).
PRETRAIN_PRESETS: dict[str, PretrainPreset] = {
    "cpu-small": PretrainPreset(
        "a laptop CPU overnight: 'small' encoder (~5M parameters), 256 clusters",
        PretrainSettings(size="small", clusters=256, features="default", kmeans_columns=50_000, max_width=768),
        dict(steps=3000, batch_size=16, lr=5e-4, warmup=200, checkpoint_every=250),
    ),
    "gpu-base": PretrainPreset(
        "one GPU for a day: the authors' 'base' encoder (6 layers, d 512), 1024 clusters, bf16",
        PretrainSettings(size="base", clusters=1024, features="default", kmeans_columns=500_000, max_width=1536),
        dict(steps=100_000, batch_size=64, lr=3e-4, warmup=2000, checkpoint_every=2000),
    ),
    "paper": PretrainPreset(
        "the published scale: 'base' encoder, 4096 clusters, millions of lines, several GPUs (torchrun)",
        PretrainSettings(
            size="base",
            clusters=4096,
            features="default",
            kmeans_columns=2_000_000,
            kmeans_iterations=500,
            max_width=2048,
        ),
        dict(steps=300_000, batch_size=128, lr=3e-4, warmup=5000, checkpoint_every=5000),
    ),
}
DEFAULT_PRETRAIN_PRESET = "cpu-small"


def pretrain_preset(name: str, **method_overrides) -> tuple[PretrainSettings, TrainSettings]:
    """A pre-training preset's method and loop settings, with method fields overridden."""
    if name not in PRETRAIN_PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRETRAIN_PRESETS)}")
    chosen = PRETRAIN_PRESETS[name]
    return replace(chosen.method, **method_overrides), TrainSettings(**chosen.loop)


# --- supervised training and fine-tuning ---------------------------------------------------------


@dataclass(frozen=True)
class TrainingPreset:
    """How a recognizer learns from labelled lines. ``loop`` holds only what differs from
    ``TrainSettings``' own defaults, which are those of training from scratch."""

    description: str
    loop: dict = field(default_factory=dict)  # TrainSettings fields
    encoder_lr_scale: float = 1.0  # the encoder learns at this fraction of the head's rate
    freeze_steps: int = 0  # the encoder stays frozen for the first steps (a fresh head settles)
    augment: bool = True  # scan-damage augmentation of the training lines
    tuned_share: float = 1.0  # from a base recognizer: the kept weights blended back toward it
    # a recognizer's training lines stretched across by a factor drawn from this range, as factors
    # of the width its base reads lines at (``supervised.widths_as_read`` turns them into the
    # factors of the width cut that ``train_recognizer(train_widths=)`` takes)
    widths_as_read: tuple[float, float] = AS_READ
    validates: bool = True  # False: no lines to validate on, the last weights are the model

    def summary(self) -> str:
        """The loop settings in a few words, for help texts: "600 steps, lr 0.0001, ..."."""
        loop = TrainSettings(**self.loop)
        words = [
            f"{loop.steps} steps",
            f"lr {loop.lr:g}",
            f"warm-up {loop.warmup}",
            f"validation every {loop.val_every}" if self.validates else "the last weights kept",
        ]
        if loop.patience:
            words.append(f"patience {loop.patience}")
        if self.encoder_lr_scale != 1.0:
            words.append(f"encoder lr x{self.encoder_lr_scale:g}")
        if self.freeze_steps:
            words.append(f"encoder frozen {self.freeze_steps} steps")
        if self.widths_as_read != AS_READ:
            words.append("lines {:g}-{:g} times as wide as the base reads".format(*self.widths_as_read))
        if self.tuned_share != 1.0:
            words.append(f"blended {self.tuned_share:g} tuned, {1 - self.tuned_share:g} base")
        return ", ".join(words)

    def settings(self, **overrides) -> TrainSettings:
        """The loop settings with ``overrides``. A run made shorter than the preset's keeps its
        warm-up to a fifth of its steps, unless the warm-up is given too; a validation interval
        given alone sets the checkpoint interval too (a checkpoint at every validation)."""
        values = {**self.loop, **overrides}
        if "val_every" in overrides and "checkpoint_every" not in overrides:
            values["checkpoint_every"] = overrides["val_every"]
        if "steps" in overrides and "warmup" not in overrides:
            values["warmup"] = min(TrainSettings(**values).warmup, overrides["steps"] // 5)
        return TrainSettings(**values)


SCRATCH, FINETUNE, ENCODER, SELF_TRAINING = "scratch", "finetune", "encoder", "self-training"
# The few-pages loop: a short run at a low rate (FINETUNE's comment says how it was chosen).
FEW_PAGES_LOOP = dict(steps=600, lr=1e-4, warmup=50, checkpoint_every=100)
TRAINING_PRESETS: dict[str, TrainingPreset] = {
    # `mspt train` without --base.
    SCRATCH: TrainingPreset("a new recognizer from thousands of labelled lines"),
    # `mspt train --base`, the fine-tune wizard with a recognizer: a person's few corrected pages.
    # A short run at a low rate, validating often and keeping the best. Checked on val documents
    # (benchmarks/few_page_finetune.py --curve; RESULTS.md, "Few-page fine-tuning"): from the
    # seventh-round handwriting model lr 1e-4 ends at least as well as 3e-4 on all six val
    # documents (24.5 % -> 18.5 % against 19.8 %), and from the print model, whose 1.6 % on one
    # page of gallicorpora-16 no step improves, it does less harm (last weights 2.8 % against 3.4 %).
    # The kept model is then blended back toward the base, three quarters tuned: from the
    # ninth-round handwriting model, the six handwritten val documents' other pages read 17.36 %
    # against 17.82 % unblended (kept model blended at 0.25 / 0.5: 20.50 / 18.45 %), four of six
    # better (few_page_finetune.py; RESULTS.md, "Five-page fine-tuning blended back…").
    # Every layer learns, at the one rate: with the encoder at 0.3 or 0.1 of it (the head at all
    # of it) the same documents read 18.06 / 19.09 % against 17.98 % from the eleventh-round
    # model (--encoder-lr-scale; RESULTS.md, "Which layers learn from a few pages").
    # The lines are as wide as the base reads them (the handwriting model: 1.15 times as cut):
    # from the twelfth-round model read so, the six documents read 14.86 % against 15.26 % when
    # trained on lines as cut and 15.19 % on lines stretched 1-1.3 (--train-widths; RESULTS.md,
    # "Five-page fine-tuning on lines as wide as the base reads them").
    FINETUNE: TrainingPreset(
        "adapt a recognizer to a few corrected pages (about five) of a new hand or print",
        dict(FEW_PAGES_LOOP, val_every=100),
        tuned_share=0.75,
    ),
    # `mspt adapt`: a recognizer learns from its own surest readings of pages nobody corrected
    # (``train.self_training``). The few-pages loop with no validation (there is nothing true to
    # check against): its last weights are the model, unblended, as measured on the val
    # documents (RESULTS.md, "Self-training on pages nobody corrected").
    # Of the lines read with any text, the surest half (by mean character confidence) is learned
    # from (``SUREST_SHARE``): on the val documents half read better than four fifths or three
    # tenths (RESULTS.md).
    SELF_TRAINING: TrainingPreset(
        "adapt a recognizer to pages nobody corrected, from its own surest readings of them",
        FEW_PAGES_LOOP,
        validates=False,
    ),
    # `mspt finetune`, the fine-tune wizard with a pre-trained encoder: a fresh head on it. The
    # ablation found no gain in a slower or frozen encoder (RESULTS.md).
    ENCODER: TrainingPreset("a new reading head on a pre-trained encoder", encoder_lr_scale=1.0, freeze_steps=0),
}


SUREST_SHARE = 0.5  # self-training: the share of a model's own readings it learns from (above)


def training_preset(name: str) -> TrainingPreset:
    if name not in TRAINING_PRESETS:
        raise ValueError(f"unknown training preset {name!r}; choose one of {', '.join(TRAINING_PRESETS)}")
    return TRAINING_PRESETS[name]
