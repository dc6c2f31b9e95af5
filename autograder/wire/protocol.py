"""Length-prefixed messages between the grader and its child process.

A message is an 8-byte big-endian length followed by ``torch.save`` bytes.
Both sides read with ``torch.load(weights_only=True)``, which only rebuilds
tensors and plain containers: a child cannot make the parent run code by
sending it a crafted message.

The child reads and writes with plain blocking calls (``read_message``,
``write_message``). The parent never blocks on the child: it sends with
``Outgoing`` and receives with ``Incoming``, which move whatever bytes a
non-blocking pipe takes or holds, so the caller can keep its deadline. What
the parent decodes is checked against ``Bounds`` before anyone looks at it:
a small message must not turn into gigabytes or hours of work in the grader.
"""

from __future__ import annotations

import errno
import io
import os
import re
import struct
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

HEADER = struct.Struct(">Q")
# Anything larger is not an answer the parent asked for (the parent's own cap is Bounds.max_bytes).
MAX_MESSAGE_BYTES = 512 * 1024 * 1024
# The pickled part of a message (everything but tensor data). Pickle opcodes of one
# byte build objects of fifty, and torch's weights-only unpickler, written in Python,
# takes about a second per megabyte of small objects: this bounds both.
MAX_PICKLE_BYTES = 4 * 1024 * 1024
MAX_ARCHIVE_ENTRIES = 100_000
READ_CHUNK = 1 << 20


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message.

    The text is the grader's own words: it never quotes what the other side sent.
    """


def plain(text: str, limit: int = 120) -> str:
    """A short excerpt of untrusted text that is safe to quote: letters, digits and simple punctuation."""
    kept = re.sub(r"[^A-Za-z0-9 _.,:()'=-]+", "?", str(text))
    return kept[:limit] + ("..." if len(kept) > limit else "")


@dataclass(frozen=True)
class Bounds:
    """What a decoded message may hold; anything beyond is refused before it is used."""

    max_bytes: int = 256 * 2**20           # the message on the wire
    max_elements: int = 64 * 2**20          # elements of one tensor
    max_depth: int = 32                     # containers inside containers
    max_items: int = 1_000_000              # items of one list, tuple, set or dict
    max_values: int = 2_000_000             # values of the whole message, counted as walked
    max_string: int = 65_536                # characters of one string, bytes of one bytes object
    max_int_bits: int = 64                  # integers beyond this are no count, size or index


# torch is imported where a message is made or read, not with this module: the parent reads
# grading.toml and starts its warm processes before it imports torch (early_start.py).


def encode(message: object) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(message, buffer)
    body = buffer.getvalue()
    return HEADER.pack(len(body)) + body


def _check_archive(body: bytes) -> None:
    """torch.save's zip, stored uncompressed, with a small pickle: nothing that expands on loading."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError):
        raise ProtocolError("unreadable message (not a torch.save archive)") from None
    if len(entries) > MAX_ARCHIVE_ENTRIES:
        raise ProtocolError(f"message with more than {MAX_ARCHIVE_ENTRIES:,} parts")
    total = 0
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED:
            raise ProtocolError("message with compressed parts")
        total += entry.file_size
        if entry.filename.endswith("data.pkl") and entry.file_size > MAX_PICKLE_BYTES:
            raise ProtocolError(f"message whose structure is over {MAX_PICKLE_BYTES // 2**20} MiB")
    if total > len(body):
        raise ProtocolError("message whose parts are larger than the message")


def decode(body: bytes, bounds: Bounds | None = None) -> object:
    """The value a message holds; with ``bounds`` (the parent), also checked against them."""
    import torch

    if bounds is not None:
        _check_archive(body)
    try:
        value = torch.load(io.BytesIO(body), weights_only=True, map_location="cpu")
    except Exception as exc:  # any failure to parse is the sender's fault
        raise ProtocolError(f"unreadable message ({type(exc).__name__}: {plain(exc)})") from None
    if bounds is not None:
        check_bounds(value, bounds)
    return value


# ---------------------------------------------------------------- bounds

def _check_tensor(tensor: torch.Tensor, bounds: Bounds, storages: set) -> None:
    import torch

    if tensor.layout != torch.strided or tensor.is_quantized:
        raise ProtocolError("a tensor that is not a plain dense tensor")
    numel = tensor.numel()
    if numel > bounds.max_elements:
        raise ProtocolError(f"a tensor of more than {bounds.max_elements:,} elements")
    if any(stride == 0 for size, stride in zip(tensor.shape, tensor.stride()) if size > 1):
        raise ProtocolError("a tensor that repeats its values (a zero stride)")
    if not tensor.is_contiguous():
        raise ProtocolError("a tensor that is not contiguous")
    storage = tensor.untyped_storage()
    if tensor.storage_offset() != 0 or storage.nbytes() != numel * tensor.element_size():
        raise ProtocolError("a tensor whose storage is larger than its values")
    if numel:
        pointer = storage.data_ptr()
        if pointer in storages:
            raise ProtocolError("two tensors that share storage")
        storages.add(pointer)


def check_bounds(value: object, bounds: Bounds) -> None:
    """Raise ProtocolError unless ``value`` stays within ``bounds`` (walked without recursion)."""
    import torch

    leaves = (type(None), bool, float, complex, torch.dtype, torch.device, torch.layout, torch.memory_format)
    storages: set[int] = set()
    pending = [(value, 0)]
    walked = 0
    while pending:
        item, depth = pending.pop()
        walked += 1
        if walked > bounds.max_values:
            raise ProtocolError(f"a message of more than {bounds.max_values:,} values")
        if depth > bounds.max_depth:
            raise ProtocolError(f"values nested more than {bounds.max_depth} deep")
        if isinstance(item, torch.Tensor):
            _check_tensor(item, bounds, storages)
        elif isinstance(item, bool) or isinstance(item, leaves):
            continue
        elif isinstance(item, int):
            if item.bit_length() > bounds.max_int_bits - 1:
                raise ProtocolError(f"an integer beyond {bounds.max_int_bits} bits")
        elif isinstance(item, (str, bytes, bytearray)):
            if len(item) > bounds.max_string:
                raise ProtocolError(f"a text or bytes value longer than {bounds.max_string:,}")
        elif isinstance(item, (list, tuple, set, frozenset, dict, torch.Size)):
            if len(item) > bounds.max_items:
                raise ProtocolError(f"a container of more than {bounds.max_items:,} items")
            # a container met twice is walked twice: what a judge may iterate over is what counts
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else list(item)
            pending.extend((child, depth + 1) for child in children)
        else:
            raise ProtocolError(f"a value of an unexpected kind ({plain(type(item).__name__, 40)})")


# ---------------------------------------------------------------- the child's side: blocking


def compact(message: object, storages: set | None = None) -> object:
    """``message`` with every tensor the parent would refuse as a view made a compact copy.

    An honest answer may hold a slice, a transposed or expanded view, or one tensor twice;
    each becomes a contiguous tensor with storage of its own, so that only a sender that
    bypasses this function meets the parent's refusals.
    """
    import torch

    storages = set() if storages is None else storages
    if isinstance(message, torch.Tensor):
        if message.layout != torch.strided or message.is_quantized:
            return message
        pointer = message.untyped_storage().data_ptr() if message.numel() else None
        if (not message.is_contiguous() or message.storage_offset() != 0 or pointer in storages
                or message.untyped_storage().nbytes() != message.numel() * message.element_size()):
            copy = message.detach().clone(memory_format=torch.contiguous_format)
            if message.requires_grad and copy.is_floating_point():
                copy.requires_grad_(True)
            message, pointer = copy, copy.untyped_storage().data_ptr() if copy.numel() else None
        if pointer is not None:
            storages.add(pointer)
        return message
    if isinstance(message, dict):
        return type(message)((key, compact(value, storages)) for key, value in message.items())
    if isinstance(message, list):
        return [compact(value, storages) for value in message]
    if isinstance(message, tuple) and not isinstance(message, torch.Size) and not hasattr(message, "_fields"):
        return tuple(compact(value, storages) for value in message)
    return message


def write_message(fd: int, message: object) -> None:
    data = memoryview(encode(compact(message)))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_exactly(fd: int, size: int) -> bytes | None:
    """Read ``size`` bytes from a blocking fd; None on end of file."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, READ_CHUNK))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> object | None:
    """Read one message from a blocking fd; None when the other side closed it."""
    header = read_exactly(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {size} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
    body = read_exactly(fd, size)
    if body is None:
        raise ProtocolError("the message ended early")
    return decode(body)


# ---------------------------------------------------------------- the parent's side: never blocking


class Outgoing:
    """One encoded message, written a piece at a time into a non-blocking fd."""

    def __init__(self, message: object) -> None:
        self.data = memoryview(encode(message))

    @property
    def done(self) -> bool:
        return not self.data

    def write_some(self, fd: int) -> None:
        """Write what the pipe takes now; OSError (e.g. EPIPE) when the reader is gone."""
        while self.data:
            try:
                written = os.write(fd, self.data[:READ_CHUNK])
            except BlockingIOError:
                return
            self.data = self.data[written:]


class Incoming:
    """One message, read a piece at a time from a non-blocking fd."""

    def __init__(self, bounds: Bounds) -> None:
        self.bounds = bounds
        self.buffer = bytearray()
        self.size: int | None = None
        self.closed = False         # the other side closed its end

    @property
    def complete(self) -> bool:
        return self.size is not None and len(self.buffer) >= HEADER.size + self.size

    def read_some(self, fd: int) -> None:
        """Read what the pipe holds now (never more than the message needs)."""
        while not self.complete and not self.closed:
            want = HEADER.size - len(self.buffer) if self.size is None else \
                HEADER.size + self.size - len(self.buffer)
            try:
                chunk = os.read(fd, min(want, READ_CHUNK))
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EINTR):
                    return
                raise
            if not chunk:
                self.closed = True
                return
            self.buffer += chunk
            if self.size is None and len(self.buffer) >= HEADER.size:
                (self.size,) = HEADER.unpack(self.buffer[:HEADER.size])
                if self.size > self.bounds.max_bytes:
                    raise ProtocolError(f"a message of {self.size:,} bytes, over the "
                                        f"{self.bounds.max_bytes:,}-byte limit")

    def value(self) -> object:
        """The decoded message (only once ``complete``)."""
        del self.buffer[:HEADER.size]
        body, self.buffer = bytes(self.buffer), bytearray()
        return decode(body, self.bounds)

    def describe_end(self) -> str:
        """Why a closed channel gave no message."""
        if not self.buffer:
            return ""
        return "the message ended early"
