"""Messages between parent and child: round trips, refusal of anything but data, bounds on what
the parent decodes, and a parent side that never blocks."""

from __future__ import annotations

import io
import os
import select
import threading
import time
import zipfile

import pytest
import torch

from autograder.wire import protocol
from autograder.wire.protocol import (HEADER, Bounds, Incoming, Outgoing, ProtocolError, decode, encode, plain,
                                        read_exactly, read_message, write_message)


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


# ---------------------------------------------------------------- bounds: what the parent refuses to use

def bounded(message, **limits):
    body = encode(message)[HEADER.size:]
    return decode(body, Bounds(**limits))


@pytest.mark.parametrize("tensor, words", [
    (torch.zeros(1).expand(1000), "zero stride"),                    # 4 bytes that act as 1,000 values
    (torch.arange(12.0).reshape(3, 4).t(), "not contiguous"),
    (torch.arange(10.0)[:3], "storage is larger"),                    # torch.save keeps the whole storage
    (torch.arange(10.0)[5:], "storage is larger"),
    (torch.zeros(2, 3).to_sparse(), "not a plain dense tensor"),
], ids=["zero-stride", "transposed", "prefix-view", "offset-view", "sparse"])
@pytest.mark.filterwarnings("ignore:Validating sparse tensor invariants")
def test_tensors_that_are_not_what_they_weigh_are_refused(tensor, words):
    with pytest.raises(ProtocolError, match=words):
        bounded({"value": tensor})


def test_plain_tensors_pass():
    value = bounded({"x": torch.arange(6.0).reshape(2, 3), "empty": torch.zeros(0, 4), "scalar": torch.tensor(3)})
    assert value["x"].shape == (2, 3) and value["scalar"].item() == 3


def test_tensors_sharing_storage_are_refused():
    t = torch.arange(4.0)
    with pytest.raises(ProtocolError, match="share storage"):
        bounded({"a": t, "b": t})


def test_a_tiny_message_that_decodes_to_billions_of_values_is_refused_before_use():
    huge = torch.zeros(1).expand(2**31)          # 8 GiB once materialised
    body = encode({"value": huge})[HEADER.size:]
    assert len(body) < 4096
    with pytest.raises(ProtocolError, match="more than 1,000 elements"):
        decode(body, Bounds(max_elements=1000))


@pytest.mark.parametrize("message, limits, words", [
    (torch.zeros(2000), {"max_elements": 1000}, "more than 1,000 elements"),
    ("x" * 5000, {"max_string": 4096}, "longer than 4,096"),
    (b"x" * 5000, {"max_string": 4096}, "longer than 4,096"),
    (list(range(5000)), {"max_items": 4096}, "more than 4,096 items"),
    ({i: i for i in range(5000)}, {"max_items": 4096}, "more than 4,096 items"),
    (2**100, {}, "beyond 64 bits"),
    ([[0] * 1000] * 100, {"max_values": 10_000}, "more than 10,000 values"),   # one list met 100 times
], ids=["elements", "string", "bytes", "list", "dict", "integer", "shared-list"])
def test_sizes_are_capped(message, limits, words):
    with pytest.raises(ProtocolError, match=words):
        bounded(message, **limits)


def test_nesting_and_cycles_are_capped():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nested more than 32 deep"):
        bounded(deep)
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ProtocolError, match="nested"):
        bounded(cycle)


def test_archives_that_expand_are_refused(monkeypatch):
    body = encode({"a": list(range(100))})[HEADER.size:]
    packed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as original, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
        for info in original.infolist():
            z.writestr(info.filename, original.read(info.filename))
    with pytest.raises(ProtocolError, match="compressed"):
        decode(packed.getvalue(), Bounds())
    monkeypatch.setattr(protocol, "MAX_PICKLE_BYTES", 100)
    with pytest.raises(ProtocolError, match="structure is over"):
        decode(body, Bounds())
    with pytest.raises(ProtocolError, match="not a torch.save archive"):
        decode(b"\x80\x02]q\x00.", Bounds())


def test_refusals_never_quote_the_sender():
    trap = "\x1b[2J[/][green]20/20[/green]"
    for text in (plain(trap), plain("a" * 500)):
        assert "\x1b" not in text and "[" not in text and "]" not in text and len(text) <= 123
    with pytest.raises(ProtocolError) as caught:
        decode(b"PK" + trap.encode(), Bounds())
    assert "\x1b" not in str(caught.value) and "[/]" not in str(caught.value)


# ---------------------------------------------------------------- the parent's side never blocks

def test_half_a_message_leaves_the_reader_waiting_not_blocked():
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    try:
        data = encode({"ok": True})
        os.write(write_fd, data[:HEADER.size + 5])
        incoming = Incoming(Bounds())
        started = time.monotonic()
        incoming.read_some(read_fd)
        assert time.monotonic() - started < 1
        assert not incoming.complete and not incoming.closed
        os.write(write_fd, data[HEADER.size + 5:])
        incoming.read_some(read_fd)
        assert incoming.complete and incoming.value() == {"ok": True}
        os.close(write_fd)
        write_fd = -1
        after = Incoming(Bounds())
        after.read_some(read_fd)
        assert after.closed and not after.complete
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def test_a_header_over_the_limit_is_refused_before_its_body_arrives():
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    try:
        os.write(write_fd, HEADER.pack(2**40))
        with pytest.raises(ProtocolError, match="over the 1,048,576-byte limit"):
            Incoming(Bounds(max_bytes=2**20)).read_some(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_reader_that_stops_reading_does_not_block_the_writer():
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        outgoing = Outgoing({"x": torch.zeros(2**20)})          # 4 MiB, far more than a pipe holds
        started = time.monotonic()
        outgoing.write_some(write_fd)
        assert time.monotonic() - started < 1 and not outgoing.done
        drained = threading.Thread(target=lambda: read_message(read_fd))
        drained.start()
        while not outgoing.done:
            select.select([], [write_fd], [], 1)
            outgoing.write_some(write_fd)
        drained.join(timeout=10)
        assert not drained.is_alive()
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_an_honest_sender_compacts_views_so_they_pass():
    base = torch.arange(24.0).reshape(4, 6)
    message = {"slice": base[:, :2], "transposed": base.t(), "expanded": torch.ones(1, 3).expand(5, 3),
               "again": base, "same": base, "grad": torch.ones(3, requires_grad=True)[1:]}
    read_fd, write_fd = os.pipe()
    try:
        write_message(write_fd, message)
        os.close(write_fd)
        write_fd = -1
        body = read_exactly(read_fd, HEADER.unpack(read_exactly(read_fd, HEADER.size))[0])
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    value = decode(body, Bounds())
    for key in ("slice", "transposed", "expanded", "again", "same"):
        original = message[key]
        assert torch.equal(value[key], original), key
    assert value["grad"].requires_grad
