"""Length-prefixed messages between the grader and its child process.

A message is an 8-byte big-endian length followed by ``torch.save`` bytes.
Both sides read with ``torch.load(weights_only=True)``, which only rebuilds
tensors and plain containers: a child cannot make the parent run code by
sending it a crafted message.
"""

from __future__ import annotations

import io
import os
import struct

import torch

HEADER = struct.Struct(">Q")
# Anything larger is not an answer the parent asked for.
MAX_MESSAGE_BYTES = 512 * 1024 * 1024


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


def encode(message: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(message, buffer)
    body = buffer.getvalue()
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> object:
    try:
        return torch.load(io.BytesIO(body), weights_only=True, map_location="cpu")
    except Exception as exc:  # any failure to parse is the sender's fault
        raise ProtocolError(f"unreadable message ({type(exc).__name__}: {exc})") from None


def write_message(fd: int, message: object) -> None:
    data = memoryview(encode(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_exactly(fd: int, size: int) -> bytes | None:
    """Read ``size`` bytes from a blocking fd; None on end of file."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
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
