"""Tensors + JSON files: one writer and reader, pickles refused unopened, shapes checked before
anything is built."""

import os
import pickle

import pytest
import torch

from mspt_core import tensorfile
from mspt_core.errors import ModelFileError


def test_tensors_and_json_come_back_as_written(tmp_path):
    path = tmp_path / "t.safetensors"
    tensors = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.tensor([1], dtype=torch.uint8)}
    tensorfile.write(path, tensors, {"settings": {"name": "Zürich", "n": [1, 2]}})
    file = tensorfile.open_file(path, "test file")
    assert file.shapes == {"a": (2, 3), "b": (1,)}
    assert file.json("settings") == {"name": "Zürich", "n": [1, 2]}
    loaded = file.tensors()
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    with pytest.raises(ModelFileError, match="not an mspt test file .no 'other'"):
        file.json("other")


def test_what_is_not_a_tensor_file_is_refused_naming_it(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo unpickled",))

    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelFileError, match="evil.safetensors.*pickle"):
        tensorfile.open_file(tmp_path / "evil.safetensors", "checkpoint")
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file at all")
    with pytest.raises(ModelFileError, match="junk.safetensors: not a readable checkpoint"):
        tensorfile.open_file(tmp_path / "junk.safetensors", "checkpoint")
    os.mkfifo(tmp_path / "fifo.safetensors")
    with pytest.raises(ModelFileError, match="not a regular file"):
        tensorfile.open_file(tmp_path / "fifo.safetensors", "checkpoint")


def test_shapes_are_checked_against_what_is_expected(tmp_path):
    path = tmp_path / "w.safetensors"
    tensorfile.write(path, {"w": torch.zeros(2, 3), "head": torch.zeros(4)})
    file = tensorfile.open_file(path, "model")
    tensorfile.check_shapes(file, {"w": (2, 3), "head": (4,)})
    tensorfile.check_shapes(file, {"w": (2, 3), "head": (4,), "extra": (1,)}, optional=["extra"])
    with pytest.raises(ModelFileError, match=r"do not match the settings \(w has shape \(2, 3\), expected \(3, 2\)"):
        tensorfile.check_shapes(file, {"w": (3, 2), "head": (4,)}, detail="the settings")
    with pytest.raises(ModelFileError, match=r"missing \['extra'\], unexpected \['head'\]"):
        tensorfile.check_shapes(file, {"w": (2, 3), "extra": (1,)})


@pytest.mark.parametrize("version", ["2", None, 1.5, True, 7])
def test_a_line_finder_with_a_damaged_or_newer_format_version_is_refused(tmp_path, version):
    """The version check every mspt file shares: a value that is not a whole number is refused
    as clearly as a newer format, never with a TypeError."""
    from mspt_core.layout.linefinder import bundled_path, load_line_finder

    source = tensorfile.open_file(bundled_path(), "line-finder file")
    path = tmp_path / "finder.safetensors"
    tensorfile.write(path, source.tensors(), {"mspt": {**source.json("mspt"), "format_version": version}})
    with pytest.raises(ModelFileError, match="format_version must be a whole number|newer mspt"):
        load_line_finder(path)
