"""Reading print and handwriting without choosing a model: the ``auto`` reader.

The bundled print model's network (``default``) sees every line. A small script classifier looks
at what it saw on each line (its CTC output averaged over the line's frames, plus how sure and
how often blank it was) and says whether the line is handwritten; those lines are read by the
bundled ``handwriting`` model, the others are decoded from the print model's output. A mixed
letter (printed letterhead, typewritten body, handwritten signature) is so read line by line
with the right model, and print read surely costs one model's time (a handwritten line costs the
print network's pass as well, but not its language-model decoding).

A line the classifier leaves to the print model but that the print model reads unsurely (mean
character confidence below the file's ``unsure_below``) is read by the handwriting model too, and
its reading kept: the handwriting model was trained on print as well and reads worn old print,
typewriting and the handwritten lines the classifier misses better than the print model does,
while clean print, read surely, costs nothing more.

The classifier is logistic regression on those features, fitted on the train splits of every
set in ``../shared/data`` and its threshold and ``unsure_below`` chosen on their val splits
(``packaging/default_model/script_classifier.py``); it ships as a tensors + JSON file beside the
models. It belongs to the print model it was fitted on: its file records that model's number of
classes, and the pair is refused if they differ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mspt_core import resources, tensorfile
from mspt_core.errors import ModelFileError
from mspt_core.models import AUTO, DEFAULT_MODEL, METADATA, WEIGHTS, bundled_models_dir, weights_sha256

__all__ = [
    "AUTO",
    "ChoosingReader",
    "ScriptClassifier",
    "choosing_reader",
    "fit_classifier",
    "frame_summary",
    "classifier_choices",
    "mean_confidence",
    "preferred_base",
    "preferred_model",
    "route",
]
FORMAT = "mspt-script-classifier"
PRINT, HANDWRITING = "print", "handwriting"
_SCALARS = 3  # mean best log-probability, share of blank frames, mean entropy


def frame_summary(log_probs: np.ndarray) -> np.ndarray:
    """What the classifier sees of one line: its (frames, classes) CTC log-probabilities summed
    up as the log of the mean probability of each class, then the mean best log-probability,
    the share of frames whose best class is blank (class 0) and the mean entropy."""
    probs = np.exp(log_probs)
    mean = np.log(probs.mean(axis=0) + 1e-6)
    scalars = [
        log_probs.max(axis=1).mean(),
        (log_probs.argmax(axis=1) == 0).mean(),
        -(probs * log_probs).sum(axis=1).mean(),
    ]
    return np.concatenate([mean, np.asarray(scalars)]).astype(np.float32)


@dataclass
class ScriptClassifier:
    """P(handwritten) of a line from its ``frame_summary`` under the print model."""

    weight: np.ndarray  # (features,)
    bias: float
    mean: np.ndarray  # standardization of the features, from the training lines
    scale: np.ndarray
    threshold: float  # lines above it are read by the handwriting model
    metadata: dict = field(default_factory=dict)
    # print readings with a mean character confidence below it (``mean_confidence``: for a reading
    # of no text, how sure it is that nothing is there) are read again by the handwriting model
    # (0: never; files written before it existed)
    unsure_below: float = 0.0

    @property
    def classes(self) -> int:
        return len(self.weight) - _SCALARS

    def handwritten(self, summaries: np.ndarray) -> np.ndarray:
        """P(handwritten) for each row of ``summaries`` (lines x features)."""
        z = ((summaries - self.mean) / self.scale) @ self.weight + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def for_handwriting(self, summaries: np.ndarray) -> np.ndarray:
        """Whether each line goes to the handwriting model: P(handwritten) above the threshold."""
        return self.handwritten(summaries) > self.threshold

    def unsure(self, reading) -> bool:
        """Whether the print model's ``reading`` of a line is too unsure to keep."""
        return mean_confidence(reading) < self.unsure_below

    def hands_over(self, handwritten: float, printed_reading) -> bool:
        """Whether ``auto`` keeps the handwriting model's reading of a line, from its
        P(handwritten) and the print model's reading of it (what ``route`` decides, without
        sparing the decoding: for choosing the threshold and ``unsure_below`` together)."""
        return bool(handwritten > self.threshold) or self.unsure(printed_reading)


def mean_confidence(reading) -> float:
    """The mean of a reading's character confidences; for an empty reading, how sure the model is
    that nothing is written there."""
    return float(np.mean(reading.char_confidences)) if reading.char_confidences else reading.confidence


def fit_classifier(summaries: np.ndarray, handwritten: np.ndarray, l2: float = 1e-3) -> ScriptClassifier:
    """Logistic regression (L-BFGS, L2-penalized) on standardized ``frame_summary`` rows."""
    mean = summaries.mean(axis=0)
    scale = summaries.std(axis=0) + 1e-6
    x = torch.tensor((summaries - mean) / scale, dtype=torch.float64)
    y = torch.tensor(handwritten, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return ScriptClassifier(
        w.detach().numpy().astype(np.float32),
        float(b.item()),
        mean.astype(np.float32),
        scale.astype(np.float32),
        0.5,
    )


def save_classifier(path: Path, classifier: ScriptClassifier) -> Path:
    tensors = {
        "weight": torch.from_numpy(classifier.weight),
        "mean": torch.from_numpy(classifier.mean),
        "scale": torch.from_numpy(classifier.scale),
    }
    meta = dict(
        classifier.metadata,
        format=FORMAT,
        format_version=1,
        bias=classifier.bias,
        threshold=classifier.threshold,
        unsure_below=classifier.unsure_below,
        classes=classifier.classes,
    )
    return tensorfile.write(path, tensors, {"mspt": meta})


def load_classifier(path: Path) -> ScriptClassifier:
    path = Path(path)
    file = tensorfile.open_file(path, "script classifier")
    meta = file.json("mspt")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an mspt script classifier")
    try:
        features = int(meta["classes"]) + _SCALARS
        bias, threshold = float(meta["bias"]), float(meta["threshold"])
        unsure_below = float(meta.get("unsure_below", 0.0))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: inconsistent metadata ({error})") from error
    if not 0 < features <= 100_000 or not 0 < threshold < 1 or not 0 <= unsure_below <= 1:
        raise ModelFileError(f"{path}: settings out of range")
    tensorfile.check_shapes(file, {k: (features,) for k in ("weight", "mean", "scale")}, detail="its metadata")
    t = {k: v.float().numpy() for k, v in file.tensors().items()}
    return ScriptClassifier(t["weight"], bias, t["mean"], t["scale"], threshold, meta, unsure_below)


def bundled_path() -> Path:
    return resources.script_classifier()


class ChoosingReader:
    """Reads like a ``LineRecognizer`` (``height``, ``read``): the print model's CTC output of
    every line first, then each line decoded by the model the classifier picks from it (a
    handwritten line is not decoded by the print model at all: with a language model that
    decoding costs more than the network); a line the print model read unsurely is read again
    by the handwriting model. ``last_choices`` says, for the last ``read``, whose reading each
    line kept, and ``last_reread`` which lines both models read."""

    def __init__(self, printed, handwriting, classifier: ScriptClassifier):
        if printed.head != "ctc":
            raise ModelFileError("the automatic reader needs a print model read by its CTC head")
        if classifier.classes != printed.model.num_classes:
            raise ModelFileError(
                f"the script classifier was fitted on a print model with {classifier.classes} classes, "
                f"not this one ({printed.model.num_classes}); refit it (packaging/default_model/script_classifier.py)"
            )
        self.printed, self.handwriting, self.classifier = printed, handwriting, classifier
        # Lines are cut at the taller model's height: each model scales them to its own, and a
        # line cut smaller than the handwriting model reads would lose the detail it was made
        # taller for.
        self.height = max(printed.height, handwriting.height)
        self.last_choices: list[str] = []
        self.last_reread: list[int] = []

    @property
    def engine(self) -> str:
        """What each model reads with now (int8 is per model file, and a reader falls back to
        PyTorch where ONNX Runtime fails), one name where both agree, print model first."""
        printed, handwriting = self.printed.engine, self.handwriting.engine
        return printed if printed == handwriting else f"{printed} + {handwriting}"

    def read(self, images: Sequence[np.ndarray]):
        choices, readings, self.last_reread = route(self.printed, self.classifier, self.printed.ctc_log_probs(images))
        self.last_choices = choices
        hand = [i for i, c in enumerate(choices) if c == HANDWRITING]
        if hand:
            for i, reading in zip(hand, self.handwriting.read([images[i] for i in hand]), strict=True):
                readings[i] = reading
        models = {PRINT: self.printed, HANDWRITING: self.handwriting}
        return [self._as_cut(reading, models[choice]) for reading, choice in zip(readings, choices, strict=True)]

    def _as_cut(self, reading, model):
        """``reading`` with its characters' x in the line as cut at this reader's height, where
        ``model`` scaled the line to a height of its own (its positions are in that image)."""
        if model.height == self.height:
            return reading
        scale = self.height / model.height
        return dataclasses.replace(reading, char_x=[x * scale for x in reading.char_x])


def classifier_choices(classifier: ScriptClassifier, log_probs: Sequence[np.ndarray]) -> list[str]:
    """Which model ``classifier`` gives each line, from the print model's CTC output of it (a
    line with no frames stays with the print model, which reads it as empty)."""
    known = [i for i, row in enumerate(log_probs) if len(row)]
    choices = [PRINT] * len(log_probs)
    if known:
        hand = classifier.for_handwriting(np.stack([frame_summary(log_probs[i]) for i in known]))
        for i, to_hand in zip(known, hand, strict=True):
            if to_hand:
                choices[i] = HANDWRITING
    return choices


def route(printed, classifier: ScriptClassifier, log_probs: Sequence[np.ndarray]) -> tuple[list[str], list, list[int]]:
    """Which model's reading ``auto`` keeps for each line, from the print model's CTC output of
    it: the classifier's choice, then the lines left to print whose print reading is unsure handed
    over too. Returns the choices, the print model's readings (None for lines the classifier gave
    the handwriting model: they are not decoded) and the lines handed over for being unsure."""
    choices = classifier_choices(classifier, log_probs)
    printed_lines = [i for i, c in enumerate(choices) if c == PRINT]
    readings: list = [None] * len(log_probs)
    for i, reading in zip(printed_lines, printed.decode([log_probs[i] for i in printed_lines]), strict=True):
        readings[i] = reading
    unsure = [i for i in printed_lines if classifier.unsure(readings[i])]
    for i in unsure:
        choices[i] = HANDWRITING
    return choices, readings, unsure


def available() -> bool:
    """Whether the bundled pieces of the ``auto`` reader are all there (files, not only folders:
    a half-deleted install falls back to the print model instead of failing every read)."""
    models = [bundled_models_dir() / n for n in (DEFAULT_MODEL, HANDWRITING)]
    return bundled_path().is_file() and all((m / WEIGHTS).is_file() and (m / METADATA).is_file() for m in models)


def reader_name(model: str | None) -> str:
    """The name of what reads when ``model`` is asked for: a model named is itself; none (None or
    "") is ``auto`` where its bundled pieces are there, else the default model."""
    if model:
        return model
    return AUTO if available() else DEFAULT_MODEL


def print_model_digest(path: Path) -> str:
    """The print model's weights file hashed: a classifier records the one it was fitted on."""
    return weights_sha256(path)


def choosing_reader(device: str = "auto", **options) -> ChoosingReader:
    """The ``auto`` reader from the bundled print and handwriting models and classifier (the
    bundled ones even where a user model shadows their names: the classifier was fitted on them).
    ``options`` go to both ``LineRecognizer``s."""
    from mspt_core.recognize import LineRecognizer

    if not available():
        raise ModelFileError(
            "the automatic reader needs the bundled default and handwriting models and the script classifier; "
            "reinstall mspt or choose a model (--model)"
        )
    classifier = load_classifier(bundled_path())
    printed_path = bundled_models_dir() / DEFAULT_MODEL
    fitted_on = classifier.metadata.get("print_model_sha256")
    if fitted_on and fitted_on != print_model_digest(printed_path):
        raise ModelFileError(
            f"{bundled_path()} was fitted on another print model than {printed_path}; refit it "
            "(packaging/default_model/script_classifier.py) or choose a model (--model)"
        )
    printed = LineRecognizer.from_model(str(printed_path), device=device, **options)
    handwriting = LineRecognizer.from_model(str(bundled_models_dir() / HANDWRITING), device=device, **options)
    return ChoosingReader(printed, handwriting, classifier)


PREFERENCE_LINES = 40  # lines the print model reads to tell which bundled model suits a collection


def preferred_base(project, most: int = PREFERENCE_LINES) -> str:
    """The bundled model to fine-tune from for a project read by ``auto``: ``preferred_model``
    of the project's corrected lines (up to ``most``; its read lines where none is corrected
    yet)."""
    from mspt_core.document import LineStatus

    if not available() or project is None:
        return DEFAULT_MODEL
    images = _line_crops(project, lambda line: line.status == LineStatus.CORRECTED, most) or _line_crops(
        project, lambda line: True, most
    )
    return preferred_model(images)


def preferred_model(images: Sequence[np.ndarray]) -> str:
    """The bundled model ``auto`` reads most of these line crops with: ``handwriting`` when it
    keeps that model's reading for most of them (lines the classifier gives it and print lines
    read unsurely alike: ``route``), else ``default``. Only the print model reads, once."""
    from mspt_core.recognize import LineRecognizer

    if not available() or not images:
        return DEFAULT_MODEL
    classifier = load_classifier(bundled_path())
    # PyTorch: an ONNX export on first use would freeze the window that asks (the app's wizard).
    printed = LineRecognizer.from_model(str(bundled_models_dir() / DEFAULT_MODEL), device="cpu", engine="torch")
    log_probs = [row for row in printed.ctc_log_probs(images) if len(row)]
    if not log_probs:
        return DEFAULT_MODEL
    choices, _, _ = route(printed, classifier, log_probs)
    return HANDWRITING if choices.count(HANDWRITING) > len(choices) / 2 else DEFAULT_MODEL


def _line_crops(project, keep, most: int) -> list[np.ndarray]:
    """Crops of up to ``most`` lines of the project that ``keep`` accepts, in page order."""
    from mspt_core.layout.crop import crop_line

    images: list[np.ndarray] = []
    for index in range(len(project)):
        lines = [ln for ln in project.page(index).lines() if len(ln.polygon) >= 3 and keep(ln)]
        if not lines:
            continue
        grey = project.grey(index)
        for line in lines[: most - len(images)]:
            try:
                images.append(crop_line(grey, line))
            except ValueError:
                continue
        if len(images) >= most:
            break
    return images
