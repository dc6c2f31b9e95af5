"""Where the data comes from, what a missing dataset says, and that the data folder stays untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.data import MNIST_FILES, load_mnist, read_idx, resolve_data_dir
from autograder.errors import DataError

from conftest import DATA_DIR, needs_data


def test_resolve_order(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_DATA", "/from/env")
    assert resolve_data_dir(option="/from/option", config_value="cfg", config_root=tmp_path) == Path("/from/option")
    assert resolve_data_dir(option=None, config_value="cfg", config_root=tmp_path) == Path("/from/env")
    monkeypatch.delenv("AUTOGRADER_DATA")
    assert resolve_data_dir(option=None, config_value="cfg", config_root=tmp_path) == tmp_path / "cfg"
    assert resolve_data_dir(option=None, config_value="/abs", config_root=tmp_path) == Path("/abs")
    assert resolve_data_dir(option=None, config_value="", config_root=tmp_path) == Path("data")


def test_missing_mnist_without_download_names_the_four_files(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        load_mnist(empty, allow_download=False)
    message = str(err.value)
    for name in MNIST_FILES:
        assert f"{name}.gz" in message
    assert str(empty / "MNIST" / "raw") in message
    assert "--data-dir" in message and "AUTOGRADER_DATA" in message
    assert list(empty.iterdir()) == []


def test_corrupt_file_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"garbage")
    with pytest.raises(DataError, match="corrupt"):
        load_mnist(tmp_path / "data", allow_download=False)


def _snapshot(folder: Path) -> dict:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@needs_data
def test_loads_mnist_through_a_fresh_cache_without_writing_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    before = _snapshot(DATA_DIR)
    data = load_mnist(DATA_DIR, allow_download=False)
    assert tuple(data.train_images.shape) == (60000, 28, 28)
    assert tuple(data.test_labels.shape) == (10000,)
    assert (tmp_path / "cache" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()
    assert _snapshot(DATA_DIR) == before
    # the child's file carries no test labels
    import torch
    saved = torch.load(data.write_child_file(tmp_path / "child.pt"), weights_only=True)
    assert set(saved) == {"train_images", "train_labels", "test_images"}


def test_idx_reader_gives_shape_and_values_and_rejects_bad_files(tmp_path):
    import torch
    values = bytes(range(24))
    good = tmp_path / "good"
    good.write_bytes(b"\0\0\x08\x03" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
                     + (4).to_bytes(4, "big") + values)
    tensor = read_idx(good)
    assert tensor.dtype == torch.uint8 and tensor.shape == (2, 3, 4)
    assert tensor.flatten().tolist() == list(values)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(good.read_bytes()[:-1])
    not_idx = tmp_path / "not_idx"
    not_idx.write_bytes(b"PK\x03\x04" + values)
    for path, words in ((truncated, "truncated"), (not_idx, "not an IDX file")):
        with pytest.raises(DataError, match=words):
            read_idx(path)
