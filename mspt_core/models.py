"""Model files and the model registry.

A model is either a folder holding ``model.safetensors`` + ``model.json``, or one
``.safetensors`` file whose header metadata carries the same JSON under the key ``mspt``.
Loading reads tensors with safetensors only; nothing is ever unpickled.

The registry knows bundled models (``resources/models``, found by ``mspt_core.resources``) and
user models (the platformdirs user data dir, or ``$MSPT_DATA_DIR/models``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import torch

from mspt_core import __version__, resources, tensorfile
from mspt_core.atomic import atomic_folder, atomic_write, write_synced
from mspt_core.charset import Charset
from mspt_core.errors import ModelFileError
from mspt_core.model import Recognizer, RecognizerConfig

FORMAT = "mspt-model"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
METADATA = "model.json"
DEFAULT_MODEL = "default"
AUTO = "auto"  # reserved: the reader that chooses print or handwriting per line (``choose``)

RESOURCES = resources.ROOT  # the bundled files (mspt_core.resources); tests point it elsewhere


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

    def extended_for(self, texts: list[str]) -> tuple[LoadedModel, list[str]]:
        """This model made able to write every character of ``texts`` (fine-tuning on lines
        with characters it has never seen): the new characters, and output rows for them, are
        appended. Returns the model (this one where nothing was added; its network is changed in
        place otherwise) and the characters added."""
        charset, added = self.charset.extended(texts)
        if not added:
            return self, added
        self.model.extend_charset(len(added))
        return replace(self, charset=charset), added


class SavableModel(Protocol):
    """What a model file is written from: a Recognizer, or an encoder alone (pre-training)."""

    config: RecognizerConfig

    def parameter_count(self) -> int: ...

    def state_dict(self) -> dict[str, torch.Tensor]: ...


def build_metadata(
    model: SavableModel, charset: Charset, name: str, provenance: dict | None = None, kind: str = "recognizer"
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


def save_model(path: Path, model: SavableModel, charset: Charset, metadata: dict, half: bool = False) -> Path:
    """Write a model folder (or a single file when ``path`` ends in .safetensors) atomically."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    return _write(Path(path), tensors, metadata)


def _write(path: Path, tensors: dict[str, torch.Tensor], metadata: dict) -> Path:
    if path.suffix == ".safetensors":
        return atomic_write(path, tensorfile.encode(tensors, {"mspt": metadata}, indent=1))
    with atomic_folder(path) as folder:
        # Written by Python rather than safetensors' save_file, so a full disk is an OSError.
        write_synced(folder / WEIGHTS, tensorfile.encode(tensors))
        write_synced(folder / METADATA, tensorfile.dumps(metadata, indent=1).encode("utf-8"))
    return path


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
    return path, None


def _open(path: Path) -> tuple[dict, tensorfile.TensorFile]:
    """A model's metadata (checked to be an mspt model this version reads) and its weights file,
    opened (``mspt_core.tensorfile``: pickles refused, shapes read)."""
    weights, folder_meta = _files(path)
    file = tensorfile.open_file(weights, "model")
    meta: object = folder_meta
    if folder_meta is None:
        if "mspt" not in file.header:
            raise ModelFileError(f"{path}: safetensors file without mspt metadata")
        meta = file.json("mspt")
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: mspt metadata is not a JSON object")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an mspt model (format is {meta.get('format')!r})")
    tensorfile.check_format_version(path, meta, FORMAT_VERSION)
    return meta, file


def weights_sha256(folder: Path) -> str:
    """SHA-256 of a model folder's weights file: what a classifier or a recipe records of the
    model it was made for."""
    return hashlib.sha256((Path(folder) / WEIGHTS).read_bytes()).hexdigest()


def read_metadata(path: Path) -> dict:
    return _open(Path(path))[0]


# What a model file may make mspt allocate: ten times the "large" size.
MAX_PARAMETERS = 1_000_000_000


def load_model(path: Path, device: torch.device | str = "cpu") -> LoadedModel:
    path = Path(path)
    meta, file = _open(path)
    try:
        config = RecognizerConfig.from_json(meta["config"])
        charset = Charset.from_json(meta["charset"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: inconsistent metadata ({error})") from error
    # Checked before the network is built: the JSON alone could ask for tens of GB.
    _check_weights_fit(path, file, config, len(charset), meta.get("kind"))
    model = Recognizer(config, len(charset))
    own = model.state_dict()
    state = {k: v.to(own[k].dtype) for k, v in file.tensors().items()}
    model.load_state_dict(state, strict=False)
    return LoadedModel(model.to(device).eval(), charset, meta)


def _check_weights_fit(
    path: Path, file: tensorfile.TensorFile, config: RecognizerConfig, classes: int, kind: str | None
) -> None:
    """Refuse metadata whose network the file's tensors do not fill exactly, or that is too big.
    The network is laid out on the meta device, which gives shapes without allocating."""
    # Each transformer layer holds weights, so a file cannot hold more layers than tensors
    # (this bounds the meta layout's time too).
    layers = config.layers + (config.decoder_layers if config.head == "decoder" else 0)
    if layers > len(file.shapes):
        raise ModelFileError(
            f"{path}: weights do not match the metadata ({layers} layers, {len(file.shapes)} weight tensors)"
        )
    with torch.device("meta"):
        layout = Recognizer(config, classes)
    parameters = layout.parameter_count()
    if parameters > MAX_PARAMETERS:
        raise ModelFileError(f"{path}: {parameters:,} parameters, more than mspt loads ({MAX_PARAMETERS:,})")
    own = {k: tuple(v.shape) for k, v in layout.state_dict().items()}
    # A recognizer file must hold every weight; an encoder-only file may lack head weights.
    optional = [] if kind == "recognizer" else [k for k in own if not k.startswith("encoder.")]
    tensorfile.check_shapes(file, own, optional, detail="the metadata")


def copy_model(source: Path, dest: Path, metadata: dict) -> Path:
    """Write the model at ``source`` to ``dest`` with new metadata, tensors as stored (an
    encoder file stays encoder-only, half precision stays half). ``source`` is fully loaded
    first, so nothing inconsistent is ever copied."""
    load_model(source)
    return _write(dest, _open(source)[1].tensors(), metadata)


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
    if str(name_or_path) == AUTO:
        raise ModelFileError(
            f"{AUTO!r} is not one model but the automatic choice between the bundled 'default' (print) and "
            "'handwriting' models, line by line; name one of them here"
        )
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
    if name.lower() == AUTO:
        raise ModelFileError(f"{name!r} is the name of the automatic reader; choose another name")
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
    copy_model(source, dest, meta)
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
    return copy_model(source, dest, meta)


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
        dest = _write(entry.path.with_name(f"{new}.safetensors"), _open(entry.path)[1].tensors(), meta)
        entry.path.unlink()
    return ModelEntry(new, dest, False, meta)
