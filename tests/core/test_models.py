"""Model files: identical outputs after save/load, pickles refused, the registry's actions."""

import io
import json
import pickle

import pytest
import torch

from mspt_core import models
from mspt_core.charset import Charset
from mspt_core.data.batching import collate
from mspt_core.errors import ModelFileError
from mspt_core.model import Recognizer, config_for
from mspt_core.models import build_metadata, load_model, read_metadata, save_model, user_models_dir
from tests.core.model.test_recognizer import _line


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "userdata"))
    return tmp_path / "userdata" / "models"


def _model(head="ctc"):
    torch.manual_seed(3)
    charset = Charset.from_texts(["The quick brown fox, ſ æ"])
    return Recognizer(config_for("tiny", head=head), len(charset)).eval(), charset


@pytest.mark.parametrize("single_file", [False, True])
@pytest.mark.parametrize("head", ["ctc", "decoder"])
def test_saved_and_loaded_model_gives_identical_outputs(tmp_path, single_file, head):
    model, charset = _model(head)
    path = tmp_path / ("m.safetensors" if single_file else "m")
    save_model(path, model, charset, build_metadata(model, charset, "m", {"train_lines": 64, "val_cer": 0.1}))
    loaded = load_model(path)
    assert loaded.charset.chars == charset.chars
    assert loaded.metadata["provenance"]["train_lines"] == 64
    assert loaded.metadata["provenance"]["mspt_version"]
    images, widths = collate([_line(150, 0), _line(90, 1)])
    with torch.no_grad():
        assert torch.equal(model.ctc_log_probs(images, widths)[0], loaded.model.ctc_log_probs(images, widths)[0])
        if head == "decoder":
            enc = model.encoder(images, widths)
            assert model.decoder.greedy(*enc) == loaded.model.decoder.greedy(*loaded.model.encoder(images, widths))


def test_a_pickle_posing_as_a_model_is_refused_without_being_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for name, payload in [("evil.safetensors", pickle.dumps(Exploit())), ("torch.safetensors", None)]:
        path = tmp_path / name
        if payload is None:
            buffer = io.BytesIO()
            torch.save({"weight": torch.zeros(2)}, buffer)  # a zip-based torch checkpoint
            payload = buffer.getvalue()
        path.write_bytes(payload)
        with pytest.raises(ModelFileError, match="pickle"):
            load_model(path)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(pickle.dumps(Exploit()))
    (folder / "model.json").write_text("{}")
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(folder)
    assert not marker.exists()


def _exported_with_header_start(tmp_path, name: str, start: bytes):
    """A model imported under ``name`` and exported again, its provenance padded so that the
    safetensors header length (the file's first 8 bytes, little-endian) begins with ``start``."""
    model, charset = _model()
    wanted, modulus = int.from_bytes(start, "little"), 256 ** len(start)
    pad = 0
    for attempt in range(2):  # the first export measures the header, the second hits the bytes
        source = save_model(
            tmp_path / f"src{attempt}", model, charset, build_metadata(model, charset, "src", {"data": "x" * pad})
        )
        models.import_model(source, name)
        shared = models.export_model(name, tmp_path / f"shared{attempt}.safetensors")
        models.remove_model(name)
        pad = (wanted - int.from_bytes(shared.read_bytes()[:8], "little")) % modulus
    return shared


@pytest.mark.parametrize("start", [b"\x80", b"PK"], ids=["pickle-byte", "zip-bytes"])
def test_a_safetensors_file_whose_header_length_looks_like_a_pickle_imports(tmp_path, user_dir, capsys, start):
    """About 1 file in 32 has a header length whose first byte is 0x80, e.g. a model exported
    under an 84-91 character name; a header of 19,280 bytes (a large alphabet) starts with PK."""
    from mspt_core.cli import main

    shared = _exported_with_header_start(tmp_path, "n" * 88, start)
    assert shared.read_bytes().startswith(start)
    assert main(["models", "import", str(shared), "--name", "again"]) == 0, capsys.readouterr().err
    assert load_model(models.resolve("again")).metadata["name"] == "again"


def test_legacy_checkpoints_and_plain_zips_are_still_refused_as_pickles(tmp_path):
    import zipfile

    legacy = tmp_path / "legacy.safetensors"
    torch.save({"weight": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)  # a bare pickle
    archive = tmp_path / "zip.safetensors"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("data.pkl", b"anything")
    for path in (legacy, archive):
        with pytest.raises(ModelFileError, match="pickle"):
            load_model(path)


def test_broken_model_files_give_clear_errors(tmp_path):
    with pytest.raises(ModelFileError, match="no such"):
        load_model(tmp_path / "missing")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(ModelFileError, match="junk.safetensors"):
        load_model(junk)
    model, charset = _model()
    path = save_model(tmp_path / "m", model, charset, build_metadata(model, charset, "m"))
    meta = json.loads((path / "model.json").read_text())
    meta["charset"] = meta["charset"][:-3]  # head rows no longer match the charset
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError):
        load_model(path)


def _with_config(tmp_path, **change):
    """A tiny model file whose JSON claims another architecture than its weights hold."""
    model, charset = _model()
    meta = build_metadata(model, charset, "m")
    meta["config"] = dict(meta["config"], **change)
    return save_model(tmp_path / "claims.safetensors", model, charset, meta)


@pytest.mark.parametrize(
    "change",
    [{"d_model": 144 * 8}, {"ff": 576 * 64}, {"layers": 3000}, {"frontend_channels": [16, 32, 64, 4096]}],
    ids=["d_model", "ff", "layers", "channels"],
)
def test_a_config_the_weights_do_not_fill_is_refused_before_any_network_is_built(tmp_path, monkeypatch, change):
    """A few-MB file whose JSON claims a huge network must not make mspt allocate it."""
    path = _with_config(tmp_path, **change)
    real = models.Recognizer

    def shapes_only(*args, **kwargs):
        network = real(*args, **kwargs)
        assert all(p.is_meta for p in network.parameters()), "a network was built from unchecked metadata"
        return network

    monkeypatch.setattr(models, "Recognizer", shapes_only)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(path) in str(info.value) and "do not match" in str(info.value)


def test_a_model_past_the_parameter_limit_is_refused_before_it_is_built(tmp_path, monkeypatch):
    path = _with_config(tmp_path)
    monkeypatch.setattr(models, "MAX_PARAMETERS", 1000)
    with pytest.raises(ModelFileError, match=r"claims.safetensors.*parameters"):
        load_model(path)


def test_registry_import_list_export_remove(tmp_path, user_dir):
    model, charset = _model()
    source = save_model(tmp_path / "mine", model, charset, build_metadata(model, charset, "mine"))
    entry = models.import_model(source, "archive-v1")
    assert entry.path.parent == user_dir
    assert "archive-v1" in [e.name for e in models.list_models()]
    with pytest.raises(ModelFileError, match="already exists"):
        models.import_model(source, "archive-v1")
    shared = models.export_model("archive-v1", tmp_path / "share")
    assert shared.name == "share.safetensors"
    assert read_metadata(shared)["name"] == "archive-v1"
    assert models.resolve("archive-v1") == entry.path
    models.remove_model("archive-v1")
    assert "archive-v1" not in [e.name for e in models.list_models()]
    with pytest.raises(ModelFileError, match="no model named"):
        models.resolve("archive-v1")


def test_bundled_models_cannot_be_removed(tmp_path, user_dir, monkeypatch):
    model, charset = _model()
    bundled = tmp_path / "resources"
    save_model(bundled / "models" / "default", model, charset, build_metadata(model, charset, "default"))
    monkeypatch.setattr(models, "RESOURCES", bundled)
    assert models.resolve(None) == bundled / "models" / "default"
    # A folder called "default" where the command runs does not stand in for the default model.
    (tmp_path / "work" / "default").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    assert models.resolve("default") == bundled / "models" / "default"
    with pytest.raises(ModelFileError, match="bundled"):
        models.remove_model("default")


def test_models_cli_lists_shows_imports_exports_and_removes(tmp_path, user_dir, capsys):
    from mspt_core.cli import main

    model, charset = _model()
    source = save_model(tmp_path / "mine", model, charset, build_metadata(model, charset, "mine", {"val_cer": 0.05}))
    assert main(["models", "import", str(source), "--name", "mine"]) == 0
    assert main(["models", "list"]) == 0
    listed = capsys.readouterr()
    assert "mine\tuser\trecognizer" in listed.out and "val CER 0.0500" in listed.out
    assert f"user models live in {user_models_dir()}" in listed.err  # where to find them on disk
    assert main(["models", "info", "mine"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["config"]["d_model"] == model.config.d_model and info["charset"] == "".join(charset.chars)
    assert main(["models", "export", "mine", str(tmp_path / "out.safetensors")]) == 0
    assert main(["models", "remove", "mine"]) == 0
    assert main(["models", "remove", "mine"]) == 2
    assert "no user model named 'mine'" in capsys.readouterr().err


def test_decoder_stops_at_its_length_guard():
    from mspt_core.models import LoadedModel
    from mspt_core.recognize import LineRecognizer

    model, charset = _model("decoder")
    reader = LineRecognizer(LoadedModel(model, charset), device="cpu")
    readings = reader.read([_line(80, 0), _line(400, 1)])  # an untrained decoder rarely says END
    assert len(readings[0].text) <= 2 * (80 // 8) + 8
    assert len(readings[1].text) <= 2 * (400 // 8) + 8


def _weight_names(path):
    from safetensors import safe_open

    weights = path / "model.safetensors" if path.is_dir() else path
    with safe_open(str(weights), framework="pt") as f:
        return set(f.keys())


@pytest.mark.parametrize("single_file", [False, True])
def test_rename_moves_a_user_model_and_its_metadata_name(tmp_path, user_dir, single_file):
    model, charset = _model()
    original = save_model(
        user_dir / ("old.safetensors" if single_file else "old"),
        model,
        charset,
        build_metadata(model, charset, "old", {"val_cer": 0.2}),
    )
    entry = models.rename_model("old", "new")
    assert entry.name == "new" and entry.path.parent == user_dir and not original.exists()
    assert entry.path.name == ("new.safetensors" if single_file else "new")
    assert [e.name for e in models.list_models() if not e.bundled] == ["new"]
    loaded = load_model(models.resolve("new"))
    assert loaded.metadata["name"] == "new" and loaded.metadata["provenance"]["val_cer"] == 0.2
    assert loaded.charset.chars == charset.chars
    assert torch.equal(loaded.model.ctc.proj.weight, model.ctc.proj.weight)


def test_rename_refuses_bundled_taken_bad_and_unknown_names(tmp_path, user_dir, monkeypatch):
    model, charset = _model()
    bundled = tmp_path / "resources"
    save_model(bundled / "models" / "default", model, charset, build_metadata(model, charset, "default"))
    monkeypatch.setattr(models, "RESOURCES", bundled)
    for name in ("a", "b"):
        save_model(user_dir / name, model, charset, build_metadata(model, charset, name))
    with pytest.raises(ModelFileError, match="bundled"):
        models.rename_model("default", "mine")
    with pytest.raises(ModelFileError, match="already exists"):
        models.rename_model("a", "b")
    with pytest.raises(ModelFileError, match="already exists"):
        models.rename_model("a", "default")
    for bad in ("", "x/y", ".hidden"):
        with pytest.raises(ModelFileError, match="not a usable"):
            models.rename_model("a", bad)
    with pytest.raises(ModelFileError, match="no user model named 'zzz'"):
        models.rename_model("zzz", "c")
    assert sorted(e.name for e in models.list_models()) == ["a", "b", "default"]


@pytest.mark.parametrize("single_file", [False, True])
def test_a_failed_rename_keeps_the_model(tmp_path, user_dir, monkeypatch, single_file):
    model, charset = _model()
    path = save_model(
        user_dir / ("old.safetensors" if single_file else "old"), model, charset, build_metadata(model, charset, "old")
    )

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(models, "atomic_write", fail)
    with pytest.raises(OSError, match="disk full"):
        models.rename_model("old", "new")
    assert [e.name for e in models.list_models() if not e.bundled] == ["old"]
    assert load_model(path).metadata["name"] == "old"
    assert sorted(p.name for p in user_dir.iterdir() if not p.name.startswith(".")) == [path.name]


def test_encoder_files_stay_encoder_only_through_import_export_and_rename(tmp_path, user_dir):
    from mspt_core.pretrain.job import save_encoder
    from mspt_core.pretrain.model import MaskedEncoder

    torch.manual_seed(1)
    source = save_encoder(tmp_path / "enc", MaskedEncoder(config_for("tiny"), 8), {"train_lines": 7})
    names = _weight_names(source)
    assert names and all(n.startswith("encoder.") for n in names)
    entry = models.import_model(source, "archive-encoder")
    assert entry.metadata["kind"] == "encoder" and _weight_names(entry.path) == names
    shared = models.export_model("archive-encoder", tmp_path / "shared")
    assert _weight_names(shared) == names
    meta = read_metadata(shared)
    assert meta["kind"] == "encoder" and meta["name"] == "archive-encoder" and meta["charset"] == []
    renamed = models.rename_model("archive-encoder", "enc-v2")
    assert _weight_names(renamed.path) == names and read_metadata(renamed.path)["kind"] == "encoder"


def test_import_keeps_half_precision_weights(tmp_path, user_dir):
    model, charset = _model()
    source = save_model(tmp_path / "half.safetensors", model, charset, build_metadata(model, charset, "h"), half=True)
    entry = models.import_model(source, "h")
    from safetensors import safe_open

    with safe_open(str(entry.path / "model.safetensors"), framework="pt") as f:
        assert f.get_tensor("ctc.proj.weight").dtype == torch.float16


def test_models_cli_renames(tmp_path, user_dir, capsys):
    from mspt_core.cli import main

    model, charset = _model()
    save_model(user_dir / "mine", model, charset, build_metadata(model, charset, "mine"))
    assert main(["models", "rename", "mine", "ours"]) == 0
    assert "renamed 'mine' to 'ours'" in capsys.readouterr().out
    assert read_metadata(user_dir / "ours")["name"] == "ours"
    assert main(["models", "rename", "mine", "x"]) == 2
    assert "no user model named 'mine'" in capsys.readouterr().err


def test_model_names_are_usable_file_names_everywhere():
    assert all(models.is_model_name(n) for n in ["default", "my model 2", "letters-1850_v2.1"])
    assert not any(
        models.is_model_name(n)
        for n in ["", ".hidden", "a/b", "a\\b", "a:b", "what?", "x" * 101, "trailing.", "trailing "]
    )


def test_a_loaded_model_extended_for_new_characters_reads_as_before_and_can_write_them(tmp_path):
    model, charset = _model()
    save_model(tmp_path / "m", model, charset, build_metadata(model, charset, "m"))
    loaded = load_model(tmp_path / "m")
    same, added = loaded.extended_for(["fox quick"])
    assert same is loaded and added == []

    images, widths = collate([_line(120, 4)])
    with torch.no_grad():
        before = loaded.model.ctc_log_probs(images, widths)[0]
    bigger, added = loaded.extended_for(["Ølse fox €"])
    assert added == sorted(["Ø", "€", "l", "s"])
    assert len(bigger.charset) == len(charset) + 4
    assert all(bigger.charset.encode(c) == charset.encode(c) for c in "The quick")
    with torch.no_grad():
        after = bigger.model.ctc_log_probs(images, widths)[0]
    assert after.shape[-1] == len(bigger.charset)
    assert torch.equal(after.argmax(-1), before.argmax(-1))
