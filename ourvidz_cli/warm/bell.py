"""The worker's wake-up call: a Unix datagram socket a client writes one byte to after it queues a job,
so an idle worker claims it at once instead of at its next poll. Without one (no AF_UNIX, an unusable
folder) the worker polls, and a hand-off only waits longer."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import tempfile
import time
from pathlib import Path

# sun_path holds 108 bytes on Linux and 104 on macOS; a longer path cannot be bound.
_MAX_SOCKET_PATH = 100


class Bell:
    def __init__(self, sock: socket.socket | None, path: str | None) -> None:
        self.sock, self.path = sock, path

    @classmethod
    def open(cls, folder: Path, name: str) -> Bell:
        """Bound under `folder` (the data home's run/), or under the temp folder when that path is too long."""
        if not hasattr(socket, "AF_UNIX"):
            return cls(None, None)
        for base in (folder, Path(tempfile.gettempdir())):
            path = str(base / f"ourvidz-{name}.sock")
            if len(path.encode()) > _MAX_SOCKET_PATH:
                continue
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                base.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                sock.bind(path)
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            return cls(sock, path)
        return cls(None, None)

    def wait(self, timeout: float) -> None:
        """Sleep until rung or `timeout` passes; rings that came in the meantime are used up."""
        if self.sock is None:
            time.sleep(timeout)
            return
        ready, _, _ = select.select([self.sock], [], [], timeout)
        while ready:
            try:
                self.sock.recv(64)
            except BlockingIOError:
                break

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path or "")
            self.sock = None


def ring(path: str | None) -> None:
    """Wake the worker listening at `path`; a missing or full socket is ignored (it polls as well). Never
    blocks: a paused worker's queue fills after a few rings, and a blocking send would then wait for ever."""
    if not path or not hasattr(socket, "AF_UNIX"):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.setblocking(False)
        sock.sendto(b"!", path)
