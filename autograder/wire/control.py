"""The zygote's control-socket messages: length-prefixed JSON, with file descriptors
riding on the header. The parent (processes/zygotes.py) and the zygote
(child/zygote.py) both speak it."""

from __future__ import annotations

import json
import socket
import struct

MAX_MESSAGE = 64 * 2**20            # a submission's source travels in one message
SWEEP_SECONDS = 5.0                 # the zygote's sweep between two children must finish within this


def send(control: socket.socket, message: dict, fds: list[int] = ()) -> None:
    data = json.dumps(message).encode()
    header = struct.pack("!I", len(data))
    if fds:     # the descriptors ride with the four header bytes, which one sendmsg always sends whole
        socket.send_fds(control, [header], list(fds))
        control.sendall(data)
    else:
        control.sendall(header + data)


def receive(control: socket.socket) -> tuple[dict | None, list[int]]:
    """One message and the descriptors that came with it; (None, []) when the parent is gone."""
    header, fds, _, _ = socket.recv_fds(control, 4, 8)
    if not header:
        return None, []
    while len(header) < 4:
        more = control.recv(4 - len(header))
        if not more:
            return None, []
        header += more
    (size,) = struct.unpack("!I", header)
    if size > MAX_MESSAGE:
        return None, []
    data = bytearray()
    while len(data) < size:
        chunk = control.recv(min(size - len(data), 1 << 20))
        if not chunk:
            return None, []
        data += chunk
    return json.loads(data), list(fds)
