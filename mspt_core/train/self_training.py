"""Self-training: a recognizer adapted to pages nobody has corrected, from its own readings.

The model reads every line, keeps the surest share of its readings (by mean character
confidence) as if they were a person's transcriptions, and is fine-tuned on those lines with the
few-pages preset's loop (``presets.SELF_TRAINING``). With no transcription to check against, no
validation picks a checkpoint: the run's last weights are the adapted model. Readings the model
got wrong but was sure of are learned too; that is the price of the method, and why only the
surest share is kept (the share was chosen on val documents: ``benchmarks/self_training.py``,
benchmarks/RESULTS.md, "Self-training on pages nobody corrected").
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from mspt_core.atomic import atomic_write
from mspt_core.choose import mean_confidence
from mspt_core.data.lines import LineSet
from mspt_core.errors import DataError
from mspt_core.presets import SELF_TRAINING, SUREST_SHARE, training_preset
from mspt_core.train.loop import Progress
from mspt_core.train.settings import TrainSettings

# Self-training was measured on documents of at least this many lines (benchmarks/self_training.py
# --min-lines); on fewer, what it does is unknown.
MEASURED_FROM_LINES = 40


def few_lines_warning(lines: int) -> str | None:
    """What to tell a person adapting a model to ``lines`` lines, when they are too few to expect
    what was measured; None otherwise."""
    if lines >= MEASURED_FROM_LINES:
        return None
    return (
        f"only {lines} lines to read: adapting was measured on {MEASURED_FROM_LINES} or more, and with "
        "fewer the model may learn nothing or read worse; add pages"
    )


def check_share(share: float) -> float:
    """A share of lines to learn from: a number above 0, at most 1."""
    if not (math.isfinite(share) and 0.0 < share <= 1.0):
        raise DataError(f"the share of lines to learn from must lie above 0 and at most 1, not {share:g}")
    return share


def surest(lines: LineSet, readings: Sequence, share: float = SUREST_SHARE) -> LineSet:
    """The surest ``share`` of the ``lines`` read with any text, by their ``readings``' mean
    character confidence (rounded, at least one line), in their own order, each with its reading
    as its text. A line read as nothing is never taken: a model learns nothing from its own blank."""
    if len(readings) != len(lines):
        raise ValueError(f"{len(readings)} readings for {len(lines)} lines")
    return labelled(lines, [(i, readings[i].text) for i in surest_places(readings, share)])


def labelled(lines: LineSet, texts: Sequence[tuple[int, str]]) -> LineSet:
    """The lines at the places given, in that order, each with the text given for it."""
    return LineSet([replace(lines.samples[i], text=text) for i, text in texts])


def surest_places(readings: Sequence, share: float) -> list[int]:
    """Where the surest ``share`` of ``readings`` with any text stand, in order (``surest``)."""
    check_share(share)
    written = [i for i, reading in enumerate(readings) if reading.text.strip()]
    ranked = sorted(written, key=lambda i: -mean_confidence(readings[i]))
    return sorted(ranked[: max(1, round(share * len(written)))]) if written else []


def read_surest(reader, lines: LineSet, share: float = SUREST_SHARE) -> LineSet:
    """``lines`` (their own texts ignored) read by ``reader``; the surest ``share`` of them,
    labelled with what it read (``surest``)."""
    return surest(lines, reader.read(lines.images), share)


READINGS = "surest-readings.json"  # in the run folder: the lines its first start kept, with their readings


def surest_of_run(
    lines: LineSet, make_reader: Callable, share: float, run_dir: Path, base: Path, resume: bool = True
) -> tuple[LineSet, bool]:
    """``read_surest`` once per run, and whether the readings were its first start's. The first
    start saves which lines it kept (their places in ``lines``) and what it read there, with the
    base's name, the share and a digest of the lines' pixels; a resumed run with all of those the
    same takes them from there, so it learns from what its first start read whichever engine,
    device or version of the base reads now (its data record would refuse other readings).
    ``make_reader`` is called only when reading. Nothing read with any text is refused."""
    record = run_dir / READINGS
    key = {"base": base.name, "share": share, "lines": _pixels(lines)}
    kept = _saved_readings(record, lines, key) if resume else None
    if kept is not None:
        return kept, True
    readings = make_reader().read(lines.images)
    places = surest_places(readings, share)
    if not places:
        raise DataError(f"{base} read no text on the {len(lines)} lines: there is nothing to learn from")
    run_dir.mkdir(parents=True, exist_ok=True)
    texts = [(i, readings[i].text) for i in places]
    atomic_write(record, json.dumps({**key, "kept": texts}, ensure_ascii=False).encode("utf-8"))
    return labelled(lines, texts), False


def _pixels(lines: LineSet) -> str:
    """A digest of the lines' images alone (their texts are not what a reading depends on)."""
    return LineSet([replace(sample, text="") for sample in lines.samples]).fingerprint()


def _saved_readings(record: Path, lines: LineSet, key: dict) -> LineSet | None:
    """The lines a run's first start kept (``surest_of_run``), when ``record`` was made with the
    same ``key`` (base, share, the lines' pixels); None otherwise (the lines are read again)."""
    try:
        saved = json.loads(record.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or any(saved.get(name) != value for name, value in key.items()):
        return None
    kept = saved.get("kept")
    if not isinstance(kept, list) or not kept:
        return None
    count = len(lines)
    if not all(
        isinstance(k, list) and len(k) == 2 and isinstance(k[0], int) and 0 <= k[0] < count and isinstance(k[1], str)
        for k in kept
    ):
        return None
    return labelled(lines, kept)


def adapt(
    lines: LineSet,
    base: Path,
    run_dir: Path,
    settings: TrainSettings,
    share: float = SUREST_SHARE,
    of: str = "",
    resume: bool = True,
    device: str = "auto",
    say: Callable[[str, str], None] = lambda kind, message: None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
):
    """``mspt adapt`` and the app's adapting run: ``base`` reads ``lines`` (their texts unused),
    keeps the surest ``share`` of its readings (once per run: ``surest_of_run``) and learns from
    them (``self_train``); ``of`` says whose lines they are, for the model's provenance. ``say``
    is told ("warning", …) when the lines are fewer than measured, ("reading", …) before reading,
    ("learning", …) before training. Returns the outcome and the kept lines."""
    from functools import partial

    from mspt_core.recognize import LineRecognizer

    warning = few_lines_warning(len(lines))
    if warning:
        say("warning", warning)
    say("reading", f"reading {len(lines)} lines with {base}")
    make_reader = partial(LineRecognizer.from_model, str(base), device=device)
    kept, saved = surest_of_run(lines, make_reader, share, run_dir, base, resume)
    first = " (as its first start read them)" if saved else ""
    say("learning", f"learning from the surest {len(kept)} of {len(lines)} lines{first}")
    outcome = self_train(
        kept,
        base,
        run_dir,
        on_progress=on_progress,
        should_stop=should_stop,
        resume=resume,
        data_description=f"its own surest readings ({len(kept)} of {len(lines)} lines) of {of}",
        settings=settings,
    )
    return outcome, kept


def self_train(
    lines: LineSet,
    base_model: Path,
    run_dir: Path,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = True,
    data_description: str = "",
    settings: TrainSettings | None = None,
):
    """Fine-tune ``base_model`` on ``lines`` labelled with its own readings (``read_surest``),
    with the self-training preset's loop (``settings``: its loop, some values replaced; the
    preset's own by default), no validation: the last weights are the model
    (``TrainOutcome.model_path``)."""
    from mspt_core.train.supervised import train_recognizer, widths_as_read

    if not lines.samples:
        raise DataError("no line was read with any text: there is nothing to learn from")
    preset = training_preset(SELF_TRAINING)
    return train_recognizer(
        lines,
        None,
        run_dir,
        settings or preset.settings(),
        base_model=base_model,
        on_progress=on_progress,
        should_stop=should_stop,
        resume=resume,
        data_description=data_description,
        use_augmentation=preset.augment,
        tuned_share=preset.tuned_share,
        encoder_lr_scale=preset.encoder_lr_scale,
        train_widths=widths_as_read(preset.widths_as_read, base_model),
    )
