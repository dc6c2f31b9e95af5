"""Messages between parent and child: round trips, and refusal of anything but data."""

from __future__ import annotations

import os

import pytest
import torch

from autograder.worker.protocol import HEADER, ProtocolError, decode, encode, read_message, write_message


def test_round_trip_through_a_pipe():
    message = {"op": "forward", "args": {"x": torch.arange(6.0).reshape(2, 3), "runs": [1, "two", None]},
               "nested": [(1, 2.5), {"flag": True}]}
    read_fd, write_fd = os.pipe()
    try:
        write_message(write_fd, message)
        write_message(write_fd, "second")
        os.close(write_fd)
        got = read_message(read_fd)
        assert torch.equal(got["args"]["x"], message["args"]["x"])
        assert got["args"]["runs"] == [1, "two", None]
        assert got["nested"][1] == {"flag": True}
        assert read_message(read_fd) == "second"
        assert read_message(read_fd) is None  # the other side closed
    finally:
        os.close(read_fd)


def test_header_is_the_body_length():
    data = encode({"a": 1})
    (length,) = HEADER.unpack(data[:HEADER.size])
    assert length == len(data) - HEADER.size
    assert decode(data[HEADER.size:]) == {"a": 1}


class Sneaky:
    def __reduce__(self):
        return (os.getcwd, ())


def test_arbitrary_objects_are_refused():
    with pytest.raises(ProtocolError):
        decode(encode(Sneaky())[HEADER.size:])
    with pytest.raises(ProtocolError):
        decode(b"not a torch file")
