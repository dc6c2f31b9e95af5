"""Datasets for training checks: find them, extract them to a cache, load them once.

The data folder is read-only to the kit. It follows torchvision's layout
(``<data>/MNIST/raw/``), with the four MNIST files raw or ``.gz``. Compressed
files are extracted into the kit's cache, checked against the canonical MD5
sums (or against those an ``MD5SUMS`` file beside them lists, for a data set
of its own in MNIST's format, such as the test suite's), and read straight
from their IDX format (torchvision is imported only to
download, since importing it costs seconds). When they are missing and
downloads are allowed, torchvision downloads them into the cache; otherwise
the error names the four files and where to put them.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DataError
from ..settings.model import Recipe
from ..settings.places import cache_dir

# The uncompressed files and their canonical MD5 sums.
MNIST_FILES = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


# A folder holding a data set of its own in MNIST's format lists its files' sums here,
# one "<md5>  <name>" line each (as md5sum writes them), for the uncompressed files.
CHECKSUMS_FILE = "MD5SUMS"


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image dataset: uint8 images (N, H, W), int64 labels (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    def write_child_file(self, path: Path) -> Path:
        """Save what a child may see: training images and labels, test images only."""
        torch.save({"train_images": self.train_images, "train_labels": self.train_labels,
                    "test_images": self.test_images}, path)
        return path



def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing_message(raw: Path) -> str:
    names = "\n".join(f"  {name}.gz" for name in MNIST_FILES)
    return (f"MNIST is not in {raw} and could not be downloaded. Put these four files there "
            f"(compressed or not):\n{names}\nor point the kit at a folder that holds MNIST/raw/ with "
            "--data-dir or AUTOGRADER_DATA.")


def expected_sums(raw: Path) -> dict[str, str]:
    """The MD5 sum each file must have: MNIST's, unless ``raw`` lists its own in MD5SUMS."""
    listing = raw / CHECKSUMS_FILE
    if not listing.is_file():
        return dict(MNIST_FILES)
    listed = {}
    for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2:
            listed[parts[1].lstrip("*")] = parts[0].lower()
    missing = [name for name in MNIST_FILES if name not in listed]
    if missing:
        raise DataError(f"{listing} lists no sum for {', '.join(missing)}: add a line '<md5>  <name>' for each "
                        "of the four files (uncompressed), or delete it to check against MNIST's own sums")
    return {name: listed[name] for name in MNIST_FILES}


def _marked_sum(marker: Path, name: str) -> str:
    """The sum a cache marker vouches for (an empty marker, from older kits, vouches for MNIST's)."""
    return marker.read_text().strip() or MNIST_FILES[name]


def _extract_into_cache(raw: Path, cached_raw: Path) -> list[str]:
    """Copy or decompress each file the data folder has; return the names still missing.

    A cached file is reused only while its marker names the sum expected now, so
    switching between data folders (MNIST, a test set) never serves the other's files.
    """
    cached_raw.mkdir(parents=True, exist_ok=True)
    missing = []
    for name, md5 in expected_sums(raw).items():
        target = cached_raw / name
        verified = cached_raw / f"{name}.md5-ok"
        if target.exists() and verified.exists() and _marked_sum(verified, name) == md5:
            continue
        plain, compressed = raw / name, raw / f"{name}.gz"
        partial = cached_raw / f"{name}.{os.getpid()}.partial"     # several grading processes may share a cache
        try:
            if compressed.exists():
                with gzip.open(compressed, "rb") as src, open(partial, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            elif plain.exists():
                shutil.copyfile(plain, partial)
            else:
                missing.append(name)
                continue
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DataError(f"could not read {compressed if compressed.exists() else plain}: {exc}. "
                            "Replace it with a good copy of the file.") from None
        if _md5(partial) != md5:
            partial.unlink()
            source = "MNIST's" if md5 == MNIST_FILES[name] else f"the one {CHECKSUMS_FILE} lists"
            raise DataError(f"{raw / name}(.gz) is corrupt (its MD5 differs from {source}): "
                            "replace it with a good copy")
        partial.replace(target)
        verified.write_text(md5)
    return missing


def _download(cache: Path, raw: Path) -> None:
    from torchvision.datasets import MNIST

    try:
        for train in (True, False):
            MNIST(root=str(cache), train=train, download=True)
    except Exception:  # offline, blocked, or a mirror failed
        raise DataError(_missing_message(raw)) from None
    for name in MNIST_FILES:  # record what torchvision fetched as verified
        path = cache / "MNIST" / "raw" / name
        if path.exists() and _md5(path) == MNIST_FILES[name]:
            (path.parent / f"{name}.md5-ok").write_text(MNIST_FILES[name])


def load_mnist(data_dir: Path, *, allow_download: bool = True) -> ImageDataset:
    """MNIST as uint8 tensors, from ``data_dir`` (never written to) via the cache."""
    raw = data_dir / "MNIST" / "raw"
    cache = cache_dir()
    try:
        missing = _extract_into_cache(raw, cache / "MNIST" / "raw")
    except PermissionError as exc:
        raise DataError(f"cannot write the data cache {cache}: {exc}. Set AUTOGRADER_CACHE to a "
                        "writable folder.") from None
    if missing:
        if not allow_download:
            raise DataError(_missing_message(raw))
        _download(cache, raw)
    cached_raw = cache / "MNIST" / "raw"
    try:
        train_images, train_labels, test_images, test_labels = (read_idx(cached_raw / name)
                                                                for name in MNIST_FILES)
    except FileNotFoundError:
        raise DataError(_missing_message(raw)) from None
    return ImageDataset(train_images, train_labels.long(), test_images, test_labels.long())


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file of unsigned bytes (MNIST's format) as a uint8 tensor of its shape.

    Layout: two zero bytes, a type byte (0x08: unsigned byte), the number of
    dimensions, each dimension as a big-endian int32, then the values.
    """
    data = path.read_bytes()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes: delete it so the kit extracts it again")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if len(data) - header != math.prod(shape):
        raise DataError(f"{path} is truncated: delete it so the kit extracts it again")
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)


DATASETS = {"mnist": load_mnist}


@dataclass(frozen=True)
class TrainingData:
    """What a batch that trains needs: the executor's file (training images and labels, test images;
    never test labels) and the test labels, which only the parent holds."""

    executor_file: Path
    test_labels: torch.Tensor


# An instructor-held test split ([assignments.<id>.training] test_data): MNIST's two test files.
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def test_data_folder(training: Recipe | None, config_root: Path) -> Path | None:
    """The folder of an assignment's own test split (a relative path is read from grading.toml's
    folder), or None when it scores on its dataset's public test set."""
    written = training.test_data if training is not None else ""
    if not written:
        return None
    path = Path(written).expanduser()
    return path if path.is_absolute() else config_root / path


def data_key(name: str, test_data: Path | None) -> str:
    """The name a batch keeps one dataset under: its name, with the test split it is scored on."""
    return name if test_data is None else f"{name}|{test_data.resolve()}"


def _test_file_bytes(folder: Path, name: str) -> bytes:
    plain, compressed = folder / name, folder / f"{name}.gz"
    try:
        if plain.is_file():
            return plain.read_bytes()
        if compressed.is_file():
            with gzip.open(compressed, "rb") as f:
                return f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"could not read {compressed if compressed.is_file() else plain}: {exc}. "
                        "Replace it with a good copy of the file.") from None
    raise DataError(f"the test split in {folder} ([training] test_data) lacks {name} (or {name}.gz): put "
                    f"both {' and '.join(TEST_FILES)} there, in MNIST's IDX format, raw or .gz")


def read_test_split(folder: Path, image_shape: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Test images (N, H, W) uint8 and labels (N,) int64 from a folder in MNIST's format, checked
    against the training images' size."""
    if not folder.is_dir():
        raise DataError(f"the test split folder {folder} ([training] test_data) does not exist: make it hold "
                        f"{' and '.join(TEST_FILES)} (raw or .gz), or remove test_data to score on the "
                        "dataset's own test set")
    tensors = []
    for name in TEST_FILES:
        scratch = folder / name
        data = _test_file_bytes(folder, name)
        if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
            raise DataError(f"{scratch}(.gz) is not an IDX file of unsigned bytes (MNIST's format)")
        ndim = data[3]
        shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
        if len(data) - 4 - 4 * ndim != math.prod(shape):
            raise DataError(f"{scratch}(.gz) is truncated: its header says {shape}")
        tensors.append(torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape))
    images, labels = tensors
    if images.dim() != 3 or tuple(images.shape[1:]) != tuple(image_shape) or labels.dim() != 1:
        raise DataError(f"the test images in {folder} are {tuple(images.shape)}; expected (N, "
                        f"{', '.join(str(n) for n in image_shape)}) like the training images, with labels (N,)")
    if len(images) != len(labels) or not len(labels):
        raise DataError(f"the test split in {folder} has {len(images)} images and {len(labels)} labels: "
                        "it needs one label per image, and at least one image")
    return images, labels.long()


def _split_sums(folder: Path) -> str:
    return " ".join(hashlib.md5(_test_file_bytes(folder, name)).hexdigest() for name in TEST_FILES)


def training_data(name: str, data_dir: Path, *, allow_download: bool = True,
                  test_data: Path | None = None) -> TrainingData:
    """The batch's training data, kept in the cache under a name drawn from the dataset's MD5 sums.

    Only the first batch reads the images and writes the two files (about half a second); the next
    ones read the test labels alone. Both files are named by the sums, so a cache shared by data
    folders with different files never mixes them. ``test_data`` names a folder whose test images and
    labels (MNIST's two test files) replace the dataset's own, so that the labels scored against
    need never be public; its files' sums are part of the name too.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset '{name}' (known: {', '.join(DATASETS)})")
    sums = " ".join(expected_sums(data_dir / "MNIST" / "raw").values())
    if test_data is not None:
        if not test_data.is_dir():
            read_test_split(test_data, ())          # says what is missing
        sums += " test " + _split_sums(test_data)
    stem = f"{name}-v1-{hashlib.sha256(sums.encode()).hexdigest()[:16]}"
    folder = cache_dir() / "MNIST"
    executor_file, labels_file = folder / f"{stem}-executor.pt", folder / f"{stem}-test-labels.pt"
    if not (executor_file.is_file() and labels_file.is_file()):
        dataset = load_dataset(name, data_dir, allow_download=allow_download)
        if test_data is not None:
            images, labels = read_test_split(test_data, tuple(dataset.train_images.shape[1:]))
            dataset = dataclasses.replace(dataset, test_images=images, test_labels=labels)
        for path, write in ((executor_file, dataset.write_child_file),
                            (labels_file, lambda to: torch.save(dataset.test_labels, to))):
            partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
            write(partial)
            partial.replace(path)          # whole or absent, even with two batches at once
    return TrainingData(executor_file, torch.load(labels_file, weights_only=True))


def load_dataset(name: str, data_dir: Path, *, allow_download: bool = True) -> ImageDataset:
    try:
        loader = DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset '{name}' (known: {', '.join(DATASETS)})") from None
    return loader(data_dir, allow_download=allow_download)
