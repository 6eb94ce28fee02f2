"""Model files and the model registry.

A model is either a folder holding ``model.safetensors`` + ``model.json``, or one
``.safetensors`` file whose header metadata carries the same JSON under the key ``mspt``.
Loading reads tensors with safetensors only; nothing is ever unpickled.

The registry knows bundled models (``resources/models``) and user models (the platformdirs
user data dir, or ``$MSPT_DATA_DIR/models``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from mspt_core import __version__
from mspt_core.atomic import atomic_folder, atomic_write, write_synced
from mspt_core.charset import Charset
from mspt_core.errors import ModelFileError
from mspt_core.inputs import file_problem
from mspt_core.model import Recognizer, RecognizerConfig

FORMAT = "mspt-model"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
METADATA = "model.json"
DEFAULT_MODEL = "default"

RESOURCES = Path(os.environ.get("MSPT_RESOURCES", Path(__file__).resolve().parents[1] / "resources"))


def user_data_dir() -> Path:
    if "MSPT_DATA_DIR" in os.environ:
        return Path(os.environ["MSPT_DATA_DIR"])
    import platformdirs

    return Path(platformdirs.user_data_dir("mspt", appauthor=False))


def bundled_models_dir() -> Path:
    return RESOURCES / "models"


def user_models_dir() -> Path:
    return user_data_dir() / "models"


@dataclass
class LoadedModel:
    model: Recognizer
    charset: Charset
    metadata: dict = field(default_factory=dict)

    @property
    def config(self) -> RecognizerConfig:
        return self.model.config


def build_metadata(
    model: Recognizer, charset: Charset, name: str, provenance: dict | None = None, kind: str = "recognizer"
) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "name": name,
        "config": model.config.to_json(),
        "charset": charset.to_json(),
        "line_height": model.config.height,
        "parameters": model.parameter_count(),
        "provenance": {
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "mspt_version": __version__,
            **(provenance or {}),
        },
    }


def save_model(path: Path, model: Recognizer, charset: Charset, metadata: dict, half: bool = False) -> Path:
    """Write a model folder (or a single file when ``path`` ends in .safetensors) atomically."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    return _write(Path(path), tensors, metadata)


def _write(path: Path, tensors: dict[str, torch.Tensor], metadata: dict) -> Path:
    text = json.dumps(metadata, ensure_ascii=False, indent=1)
    if path.suffix == ".safetensors":
        return atomic_write(path, save(tensors, metadata={"mspt": text}))
    with atomic_folder(path) as folder:
        # Written by Python rather than safetensors' save_file, so a full disk is an OSError.
        write_synced(folder / WEIGHTS, save(tensors))
        write_synced(folder / METADATA, text.encode("utf-8"))
    return path


def _refuse_if_pickle(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(9)
    if not _starts_like_safetensors(head, path.stat().st_size) and _starts_like_checkpoint(head):
        raise ModelFileError(
            f"{path}: this is a PyTorch/pickle file (a pickle or a zip of pickles), not a safetensors "
            "model; mspt never loads pickles because they can run code. Convert it to safetensors + JSON first."
        )


def _starts_like_safetensors(head: bytes, size: int) -> bool:
    """A safetensors file starts with its header's length (8 bytes, little-endian) and then the
    header's JSON. That length may begin with any byte, 0x80 and "PK" included, so this is asked
    before looking for a pickle's or a zip's first bytes."""
    length = int.from_bytes(head[:8], "little")
    return len(head) == 9 and 2 <= length <= size - 8 and head[8:9] == b"{"


def _starts_like_checkpoint(head: bytes) -> bool:
    # Pickle protocol 2+ begins with PROTO (0x80); torch.save writes a zip ("PK") since PyTorch 1.6.
    return head[:1] == b"\x80" or head[:2] == b"PK"


def _files(path: Path) -> tuple[Path, dict | None]:
    """Weights file and, for folders, the parsed JSON metadata."""
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file or folder")
    if path.is_dir():
        weights, meta = path / WEIGHTS, path / METADATA
        if not weights.is_file() or not meta.is_file():
            raise ModelFileError(f"{path}: a model folder needs {WEIGHTS} and {METADATA}")
        try:
            return weights, json.loads(meta.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelFileError(f"{meta}: not valid JSON ({error})") from error
    problem = file_problem(path)  # a FIFO would block the first read forever
    if problem:
        raise ModelFileError(f"{path}: {problem}")
    return path, None


def read_metadata(path: Path) -> dict:
    path = Path(path)
    weights, meta = _files(path)
    _refuse_if_pickle(weights)
    try:
        with safe_open(str(weights), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError) as error:
        raise ModelFileError(f"{weights}: not a readable safetensors file ({error})") from error
    if meta is None:
        if "mspt" not in header:
            raise ModelFileError(f"{path}: safetensors file without mspt metadata")
        try:
            meta = json.loads(header["mspt"])
        except json.JSONDecodeError as error:
            raise ModelFileError(f"{path}: mspt metadata is not valid JSON ({error})") from error
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an mspt model (format is {meta.get('format')!r})")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"{path}: made by a newer mspt (format {meta['format_version']}); please upgrade")
    return meta


# What a model file may make mspt allocate: ten times the "large" size.
MAX_PARAMETERS = 1_000_000_000


def load_model(path: Path, device: torch.device | str = "cpu") -> LoadedModel:
    path = Path(path)
    meta = read_metadata(path)
    weights, _ = _files(path)
    try:
        config = RecognizerConfig.from_json(meta["config"])
        charset = Charset.from_json(meta["charset"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: inconsistent metadata ({error})") from error
    # Checked before the network is built: the JSON alone could ask for tens of GB.
    _check_weights_fit(path, _tensor_shapes(weights), config, len(charset), meta.get("kind"))
    model = Recognizer(config, len(charset))
    own = model.state_dict()
    state = {k: v.to(own[k].dtype) for k, v in _read_tensors(weights).items()}
    model.load_state_dict(state, strict=False)
    return LoadedModel(model.to(device).eval(), charset, meta)


def _tensor_shapes(weights: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape, read from the header without loading the tensor."""
    try:
        with safe_open(str(weights), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except SafetensorError as error:
        raise ModelFileError(f"{weights}: {error}") from error


def _check_weights_fit(
    path: Path, shapes: dict[str, tuple[int, ...]], config: RecognizerConfig, classes: int, kind: str | None
) -> None:
    """Refuse metadata whose network the file's tensors do not fill exactly, or that is too big.
    The network is laid out on the meta device, which gives shapes without allocating."""
    # Each transformer layer holds weights, so a file cannot hold more layers than tensors
    # (this bounds the meta layout's time too).
    layers = config.layers + (config.decoder_layers if config.head == "decoder" else 0)
    if layers > len(shapes):
        raise ModelFileError(
            f"{path}: weights do not match the metadata ({layers} layers, {len(shapes)} weight tensors)"
        )
    with torch.device("meta"):
        layout = Recognizer(config, classes)
    parameters = layout.parameter_count()
    if parameters > MAX_PARAMETERS:
        raise ModelFileError(f"{path}: {parameters:,} parameters, more than mspt loads ({MAX_PARAMETERS:,})")
    own = {k: tuple(v.shape) for k, v in layout.state_dict().items()}
    wrong = [k for k in shapes if k in own and shapes[k] != own[k]]
    if wrong:
        raise ModelFileError(
            f"{path}: weights do not match the metadata ({wrong[0]} has shape "
            f"{shapes[wrong[0]]}, expected {own[wrong[0]]})"
        )
    # A recognizer file must hold every weight; an encoder-only file may lack head weights.
    missing = [k for k in own if k not in shapes and (kind == "recognizer" or k.startswith("encoder."))]
    unexpected = [k for k in shapes if k not in own]
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: weights do not match the metadata (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )


def _read_tensors(weights: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(weights), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except SafetensorError as error:
        raise ModelFileError(f"{weights}: {error}") from error


def _copy(source: Path, dest: Path, metadata: dict) -> Path:
    """Write the model at ``source`` to ``dest`` with new metadata, tensors as stored (an
    encoder file stays encoder-only, half precision stays half). ``source`` is fully loaded
    first, so nothing inconsistent is ever copied."""
    load_model(source)
    return _write(dest, _read_tensors(_files(source)[0]), metadata)


# --- registry ------------------------------------------------------------------------------


@dataclass
class ModelEntry:
    name: str
    path: Path
    bundled: bool
    metadata: dict


def _entries(root: Path, bundled: bool) -> list[ModelEntry]:
    entries = []
    if root.is_dir():
        for path in sorted(root.iterdir()):
            if path.name.startswith("."):
                continue
            if path.is_dir() or path.suffix == ".safetensors":
                try:
                    meta = read_metadata(path)
                except ModelFileError:
                    continue  # not a model; `mspt models info` on it says why
                entries.append(ModelEntry(path.name.removesuffix(".safetensors"), path, bundled, meta))
    return entries


def list_models() -> list[ModelEntry]:
    """User models first, so a user model may shadow a bundled one of the same name."""
    return _entries(user_models_dir(), False) + _entries(bundled_models_dir(), True)


def resolve(name_or_path: str | Path | None) -> Path:
    """A model path from a registry name or a path; None means the default model."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    # "default" always means the registry's, even where the working folder holds a "default".
    candidate = Path(name_or_path)
    if candidate.exists() and str(name_or_path) != DEFAULT_MODEL:
        return candidate
    entries = list_models()
    for entry in entries:
        if entry.name == str(name_or_path):
            return entry.path
    if str(name_or_path) == DEFAULT_MODEL:
        raise ModelFileError("no default model is installed; train one with `mspt train` or pass --model PATH")
    known = ", ".join(e.name for e in entries) or "none"
    raise ModelFileError(f"no model named {name_or_path!r} (known: {known}) and no such file")


NAME_HINT = "letters, digits, spaces, '-', '_' and '.', not starting with '.' or ending with a space"


def is_model_name(name: str) -> bool:
    """A name every system can use as a file name: ``NAME_HINT``."""
    return (
        bool(name)
        and len(name) <= 100
        and not name.startswith(".")
        and name == name.rstrip(" .")
        and all(c.isalnum() or c in " -_." for c in name)
    )


def usable_name(name: str, fallback: str) -> str:
    """``name`` if it is a usable name, else the same with unusable characters replaced."""
    if is_model_name(name):
        return name
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("._")[:100] or fallback


def _check_name(name: str) -> str:
    if not is_model_name(name):
        raise ModelFileError(f"{name!r} is not a usable model name: use {NAME_HINT}")
    return name


def check_new_name(name: str) -> str:
    """``name`` if a user model may be imported under it: usable and not taken."""
    _check_name(name)
    dest = user_models_dir() / name
    if dest.exists() or dest.with_suffix(".safetensors").exists():
        raise ModelFileError(f"a user model named {name!r} already exists; remove it or choose another name")
    return name


def import_model(source: Path, name: str | None = None) -> ModelEntry:
    source = Path(source)
    meta = read_metadata(source)  # refuses anything that is not a valid model before copying
    name = check_new_name(name or source.name.removesuffix(".safetensors"))
    dest = user_models_dir() / name
    meta = dict(meta, name=name)
    _copy(source, dest, meta)
    return ModelEntry(name, dest, False, meta)


def export_model(name_or_path: str, dest: Path) -> Path:
    """Write a model as one self-contained .safetensors file for sharing; ``dest`` may be a
    folder, which gets the file under the model's name."""
    dest = Path(dest)
    source = resolve(name_or_path)
    meta = read_metadata(source)
    if dest.is_dir():
        dest = dest / usable_name(str(meta.get("name", "")), source.name.removesuffix(".safetensors"))
    if dest.suffix != ".safetensors":
        dest = dest.with_name(dest.name + ".safetensors")
    return _copy(source, dest, meta)


def remove_model(name: str) -> Path:
    for entry in list_models():
        if entry.name == name:
            if entry.bundled:
                raise ModelFileError(f"{name!r} is bundled with mspt and cannot be removed")
            if entry.path.is_dir():
                shutil.rmtree(entry.path)
            else:
                entry.path.unlink()
            return entry.path
    raise ModelFileError(f"no user model named {name!r}")


def rename_model(old: str, new: str) -> ModelEntry:
    """Give a user model a new name (its file or folder and the metadata "name").

    A folder is renamed first and its JSON rewritten atomically after, renaming it back if that
    fails; a single file is written under the new name before the old one is deleted. Either
    way a failure leaves the model under one of its two names, never lost."""
    _check_name(new)
    entries = list_models()
    entry = next((e for e in entries if e.name == old and not e.bundled), None)
    if entry is None:
        if any(e.name == old for e in entries):
            raise ModelFileError(
                f"{old!r} is bundled with mspt and cannot be renamed; export it and import the copy under another name"
            )
        raise ModelFileError(f"no user model named {old!r}")
    if new == old:
        return entry
    if (
        any(e.name == new for e in entries)
        or (user_models_dir() / new).exists()
        or (user_models_dir() / f"{new}.safetensors").exists()
    ):
        raise ModelFileError(f"a model named {new!r} already exists; choose another name")
    meta = dict(entry.metadata, name=new)
    if entry.path.is_dir():
        dest = entry.path.with_name(new)
        os.rename(entry.path, dest)
        try:
            atomic_write(dest / METADATA, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
        except BaseException:
            os.rename(dest, entry.path)
            raise
    else:
        dest = _write(entry.path.with_name(f"{new}.safetensors"), _read_tensors(entry.path), meta)
        entry.path.unlink()
    return ModelEntry(new, dest, False, meta)
