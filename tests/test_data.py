"""Where the data comes from, what a missing dataset says, and that the data folder stays untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autograder.grading.datasets import CHECKSUMS_FILE, MNIST_FILES, load_mnist, read_idx
from autograder.settings.places import resolve_data_dir
from autograder.grading.datasets import training_data as batch_training_data
from autograder.errors import DataError

from conftest import HAVE_MNIST
from synthetic_mnist import TEST_SIZE, TRAIN_SIZE, make_images, write_mnist_format


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


def test_loads_the_data_through_a_fresh_cache_without_writing_the_data_folder(training_data, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    before = _snapshot(training_data)
    data = load_mnist(training_data, allow_download=False)
    train, test = (60000, 10000) if HAVE_MNIST else (TRAIN_SIZE, TEST_SIZE)
    assert tuple(data.train_images.shape) == (train, 28, 28)
    assert tuple(data.test_labels.shape) == (test,)
    assert (tmp_path / "cache" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()
    assert _snapshot(training_data) == before
    # the child's file carries no test labels
    saved = torch.load(data.write_child_file(tmp_path / "child.pt"), weights_only=True)
    assert set(saved) == {"train_images", "train_labels", "test_images"}
    # a batch reads the test labels alone once the cache holds the executor's file
    first = batch_training_data("mnist", training_data, allow_download=False)
    written = first.executor_file.stat().st_mtime_ns
    second = batch_training_data("mnist", training_data, allow_download=False)
    assert second.executor_file == first.executor_file and first.executor_file.stat().st_mtime_ns == written
    assert torch.equal(second.test_labels, data.test_labels)
    reloaded = torch.load(first.executor_file, weights_only=True)
    assert set(reloaded) == set(saved) and torch.equal(reloaded["train_images"], data.train_images)


def test_idx_reader_gives_shape_and_values_and_rejects_bad_files(tmp_path):
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


def test_the_suites_own_digits_are_deterministic_balanced_and_read_as_written(tmp_path, monkeypatch):
    images, labels = make_images(300, 7)
    again, _ = make_images(300, 7)
    assert images.dtype == torch.uint8 and tuple(images.shape) == (300, 28, 28)
    assert torch.equal(images, again)
    assert torch.bincount(labels, minlength=10).tolist() == [30] * 10
    # each digit looks like itself more than like the others: class means differ clearly
    means = torch.stack([images[labels == d].float().mean(0) for d in range(10)])
    assert (torch.cdist(means.flatten(1), means.flatten(1)) + torch.eye(10) * 1e9).min() > 100

    folder = write_mnist_format(tmp_path / "a", train_size=120, test_size=40)
    twin = write_mnist_format(tmp_path / "b", train_size=120, test_size=40)
    raw, twin_raw = folder / "MNIST" / "raw", twin / "MNIST" / "raw"
    assert all((raw / p.name).read_bytes() == p.read_bytes() for p in twin_raw.iterdir())
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    data = load_mnist(folder, allow_download=False)
    assert tuple(data.train_images.shape) == (120, 28, 28) and tuple(data.test_labels.shape) == (40,)
    assert torch.equal(data.test_images, make_images(40, 2025)[0])


def test_a_cache_never_serves_another_data_sets_files(tmp_path, monkeypatch):
    """Two folders with different files, one cache: each load reads its own folder's files."""
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    small = write_mnist_format(tmp_path / "small", train_size=50, test_size=20)
    other = write_mnist_format(tmp_path / "other", train_size=60, test_size=20, seed=5)
    assert load_mnist(small, allow_download=False).train_images.shape[0] == 50
    assert load_mnist(other, allow_download=False).train_images.shape[0] == 60
    assert load_mnist(small, allow_download=False).train_images.shape[0] == 50


def test_a_file_that_differs_from_its_listed_sum_is_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    folder = write_mnist_format(tmp_path / "data", train_size=30, test_size=10)
    listing = folder / "MNIST" / "raw" / CHECKSUMS_FILE
    listing.write_text(listing.read_text().replace(listing.read_text()[:8], "00000000", 1))
    with pytest.raises(DataError, match=f"corrupt .*{CHECKSUMS_FILE}"):
        load_mnist(folder, allow_download=False)
    listing.write_text("".join(listing.read_text().splitlines(keepends=True)[1:]))
    with pytest.raises(DataError, match="lists no sum for train-images-idx3-ubyte"):
        load_mnist(folder, allow_download=False)


def test_cifar_images_come_from_the_data_folder_the_grader_was_given(tmp_path, monkeypatch):
    """--data-dir (not only AUTOGRADER_DATA) decides where CIFAR-10's images are read from."""
    import pickle

    import numpy as np

    from autograder.grading.batch import grading_setup
    from autograder.checks.tensor_specs import materialize
    from autograder.checks import load_config

    folder = tmp_path / "given" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 256, (6, 3 * 32 * 32), dtype=np.uint8)
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"data": pixels, b"labels": [3, 1, 4, 1, 5, 9]}, f)
    monkeypatch.delenv("AUTOGRADER_DATA", raising=False)
    config = load_config()
    spec = {"__tensor__": "image_batch", "count": 6, "classes": 10, "shape": [6, 3, 32, 32], "seed": 11,
            "signal": 0.3, "cifar": True, "part": "labels"}
    with grading_setup(config=config, assignment=config.assignment("cifar10_cnn"), data_dir=tmp_path / "given",
                       device="cpu", seed=None) as setup:
        assert materialize(spec, setup.data_dir).tolist() == [3, 1, 4, 1, 5, 9]
    with grading_setup(config=config, assignment=config.assignment("cifar10_cnn"), data_dir=tmp_path / "other",
                       device="cpu", seed=None) as setup:
        synthetic = materialize(spec, setup.data_dir)
    assert synthetic.shape == (6,) and synthetic.tolist() != [3, 1, 4, 1, 5, 9]
