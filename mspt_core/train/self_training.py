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
    check_share(share)
    if len(readings) != len(lines):
        raise ValueError(f"{len(readings)} readings for {len(lines)} lines")
    written = [i for i, reading in enumerate(readings) if reading.text.strip()]
    ranked = sorted(written, key=lambda i: -mean_confidence(readings[i]))
    kept = sorted(ranked[: max(1, round(share * len(written)))]) if written else []
    return LineSet([replace(lines.samples[i], text=readings[i].text) for i in kept])


def read_surest(reader, lines: LineSet, share: float = SUREST_SHARE) -> LineSet:
    """``lines`` (their own texts ignored) read by ``reader``; the surest ``share`` of them,
    labelled with what it read (``surest``)."""
    return surest(lines, reader.read(lines.images), share)


READINGS = "surest-readings.json"  # in the run folder: the lines its first start kept, with their readings


def surest_of_run(
    lines: LineSet, make_reader: Callable, share: float, run_dir: Path, base_name: str, resume: bool = True
) -> LineSet:
    """``read_surest`` once per run. The first start saves the kept lines' sources and readings in
    ``run_dir``; a resumed run on the same lines (every saved source among them) takes them from
    there, so it learns from what its first start read whichever engine, device or version of the
    base reads now (its data record would refuse other readings). ``make_reader`` is called only
    when reading. Nothing read with any text is refused (``base_name`` says whose reading)."""
    record = run_dir / READINGS
    kept = _saved_readings(record, lines, share) if resume else None
    if kept is None:
        kept = read_surest(make_reader(), lines, share)
        if not kept.samples:
            raise DataError(f"{base_name} read no text on the {len(lines)} lines: there is nothing to learn from")
        run_dir.mkdir(parents=True, exist_ok=True)
        saved = {"share": share, "lines": len(lines), "kept": [[s.source, s.text] for s in kept.samples]}
        atomic_write(record, json.dumps(saved, ensure_ascii=False).encode("utf-8"))
    return kept


def _saved_readings(record: Path, lines: LineSet, share: float) -> LineSet | None:
    """The lines a run's first start kept (``surest_of_run``), when ``record`` is for these
    lines and share; None when there is none or it is for others (the lines are read again)."""
    try:
        saved = json.loads(record.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    by_source = {sample.source: sample for sample in lines.samples}
    if not isinstance(saved, dict) or saved.get("share") != share or saved.get("lines") != len(lines):
        return None
    kept = saved.get("kept")
    if not isinstance(kept, list) or not kept:
        return None
    if not all(isinstance(k, list) and len(k) == 2 and k[0] in by_source and isinstance(k[1], str) for k in kept):
        return None
    return LineSet([replace(by_source[source], text=text) for source, text in kept])


def readings_description(kept: LineSet, read: int, of: str) -> str:
    """What an adapted model learned from, for its provenance."""
    return f"its own surest readings ({len(kept)} of {read} lines) of {of}"


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
