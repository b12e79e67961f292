"""A real redis-server on a free loopback port (persistence off unless asked), and an Upstash-REST double
in front of it that answers as Upstash's REST API does (see `_Handler`), forwarding each command to that
server over raw RESP."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


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


class Resp:
    """A raw RESP2 client on one socket: replies exactly as redis-server sends them (no redis-py reply
    callbacks, which turn PING into True and HGETALL into a dict), error texts with their code."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        self.lock = threading.Lock()

    def call(self, *args: bytes) -> Any:
        payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        with self.lock:
            self.sock.sendall(payload)
            return self._read()

    def _read(self) -> Any:
        line = self.file.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ValueError(f"not RESP: {line!r}")


class RespError(str):
    pass


class _Handler(BaseHTTPRequestHandler):
    """Upstash's REST API (its documented mapping of Redis replies): POST / with the command as a JSON
    array; the path form (`/set/key/value`, `GET /rpop/queue`; a POST body is the last argument, as
    producers push items); `/pipeline` and `/multi-exec` with a JSON array of commands; the token as
    `Authorization: Bearer` or `?_token=`; `Upstash-Encoding: base64` for binary values. Replies are
    {"result": ...} with Redis's own values (PING is "PONG", integers stay integers, HGETALL a flat
    array), errors {"error": "ERR ..."} with HTTP 400, a wrong token 401."""

    server: _RestServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes: without this, Nagle's algorithm and delayed ACKs add
        # 40 ms to every kept-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        query = parse_qs(urlsplit(self.path).query)
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ") or query.get("_token", [""])[0]
        if token != self.server.token:
            self._answer(401, {"error": "Unauthorized"})
            return False
        return True

    def _commands(self, body: bytes) -> tuple[str, list[list[bytes]]] | None:
        """('one' | 'pipeline' | 'multi', commands) from the path and body; None after a 400."""
        path = urlsplit(self.path).path.strip("/")
        try:
            data = json.loads(body) if body and path in ("", "pipeline", "multi-exec") else None
        except ValueError:
            self._answer(400, {"error": "ERR failed to parse command"})
            return None
        if path in ("pipeline", "multi-exec"):
            if not isinstance(data, list) or not all(isinstance(c, list) and c for c in data):
                self._answer(400, {"error": "ERR the request body must be a JSON array of commands"})
                return None
            return ("pipeline" if path == "pipeline" else "multi", [[_arg(a) for a in c] for c in data])
        if path == "":
            if not isinstance(data, list) or not data:
                self._answer(400, {"error": "ERR the request body must be a JSON array of a command"})
                return None
            return "one", [[_arg(a) for a in data]]
        command = [unquote(part).encode() for part in path.split("/")]
        return "one", [command + ([body] if self.command == "POST" and body else [])]

    def _run(self, command: list[bytes]) -> dict[str, Any]:
        if self.server.lose_replies and command[0].upper() == b"EVAL":
            return {"lose": True, "reply": self.server.resp.call(*command)}
        return _as_upstash(self.server.resp.call(*command), self._base64)

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        if not self._authorized():
            return
        parsed = self._commands(body)
        if parsed is None:
            return
        mode, commands = parsed
        self.server.requests += 1
        self._base64 = (self.headers.get("Upstash-Encoding") or "").lower() == "base64"
        if mode == "multi":
            commands = [[b"MULTI"], *commands, [b"EXEC"]]
        replies = [self._run(c) for c in commands]
        if any(r.get("lose") for r in replies):  # it ran; the answer never arrives
            self.server.lose_replies -= 1
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if mode == "one":
            self._answer(400 if "error" in replies[0] else 200, replies[0])
        elif mode == "pipeline":
            self._answer(200, replies)
        else:
            self._answer(200, _exec_results(replies[-1]))

    do_POST = do_GET = _handle  # noqa: N815


def _arg(value: Any) -> bytes:
    return (value if isinstance(value, str) else json.dumps(value)).encode()


def _as_upstash(value: Any, base64_encoded: bool = False) -> dict[str, Any]:
    if isinstance(value, RespError):
        return {"error": str(value)}
    return {"result": _value(value, base64_encoded)}


def _value(value: Any, base64_encoded: bool) -> Any:
    if isinstance(value, list):
        return [_value(v, base64_encoded) if not isinstance(v, RespError) else {"error": str(v)} for v in value]
    if isinstance(value, bytes):
        if base64_encoded:
            return base64.b64encode(value).decode()
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str) and base64_encoded and value not in ("OK", "QUEUED"):
        return base64.b64encode(value.encode()).decode()
    return value


def _exec_results(reply: dict[str, Any]) -> Any:
    """/multi-exec: the transaction's replies, each as {"result"} or {"error"}."""
    if "error" in reply:
        return reply
    return [r if isinstance(r, dict) else {"result": r} for r in reply["result"] or []]


class _RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, redis_url: str, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.redis_port = int(urlsplit(redis_url).port or 6379)
        self.token, self.requests = token, 0
        self.lose_replies = 0  # the next N EVALs run on the server, and their replies are lost
        self._local = threading.local()

    @property
    def resp(self) -> Resp:
        """One connection per handler thread: MULTI ... EXEC must not interleave with another request."""
        conn = getattr(self._local, "resp", None)
        if conn is None:
            conn = self._local.resp = Resp(self.redis_port)
        return conn


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
