"""A real redis-server on a free loopback port with persistence off, and an Upstash-REST adapter in front
of it: Upstash's API as the seed uses it (POST / with the command as a JSON array, Bearer token, answers
{"result": ...} or {"error": "..."}, 401 for a wrong token), forwarding each command to that server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def available() -> bool:
    return shutil.which("redis-server") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, folder: Path, persist: bool = False) -> None:
        """`persist`: an append-only file, so a restart keeps the lists (SIGTERM flushes it)."""
        self.folder, self.port, self.persist = folder, free_port(), persist
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 10 s")

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, decode_responses=True)

    def flush(self) -> None:
        self.client().flushall()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def restart(self, down_s: float) -> None:
        """Stopped, gone for `down_s`, started again on the same port (an operator's restart)."""
        self.stop()
        time.sleep(down_s)
        self.start()


class _Handler(BaseHTTPRequestHandler):
    server: _RestServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self._answer(401, {"error": "Unauthorized"})
            return
        command = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"[]")
        if self.path.rstrip("/") != "" or not isinstance(command, list) or not command:
            self._answer(400, {"error": "ERR the request body must be a JSON array of a command"})
            return
        self.server.requests += 1
        try:
            result = self.server.redis.execute_command(*command)
        except Exception as exc:  # noqa: BLE001  Redis's own error text, as Upstash passes it on
            self._answer(400, {"error": str(exc)})
            return
        if self.server.lose_replies and command[0].upper() == "EVAL":  # it ran; the answer never arrives
            self.server.lose_replies -= 1
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._answer(200, {"result": _as_upstash(result)})


def _as_upstash(value: Any) -> Any:
    """redis-py's parsed replies back to Redis's own (what Upstash returns): sets are arrays, a status
    reply is its text."""
    if isinstance(value, (set, list, tuple)):
        return [_as_upstash(v) for v in value]
    if value is True:
        return "OK"
    return value


class _RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, redis_url: str, token: str) -> None:
        import redis

        super().__init__(("127.0.0.1", 0), _Handler)
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.token, self.requests = token, 0
        self.lose_replies = 0  # the next N EVALs run on the server, and their replies are lost


class UpstashRest:
    def __init__(self, redis_url: str, token: str) -> None:
        self.server = _RestServer(redis_url, token)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> UpstashRest:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ReplyDropper:
    """A TCP proxy on loopback in front of a redis-server: once armed, the next command that holds
    `EVAL` reaches the server and runs, and the connection is closed before its reply gets back, as a
    dropped connection or a timeout does to a client."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port, self.armed = upstream_port, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """One request, one reply at a time (redis-py without pipelining), so a reply is dropped whole."""
        try:
            while data := client.recv(65536):
                drop = self.armed > 0 and b"EVAL" in data
                upstream.sendall(data)
                reply = upstream.recv(65536)
                if drop:
                    self.armed -= 1
                    self.dropped += 1
                    break
                client.sendall(reply)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.listener.close()
