"""What the scan listens to while the service runs, and the processes it starts.

- `WireRecorder`: a TCP relay between the service and PostgreSQL that writes every byte
  of every connection to a file of its own (one file per connection and direction, so a
  statement is never split by another connection's bytes). The client-to-server files
  hold every SQL text and every bound parameter the API, the worker and the management
  commands sent; the server-to-client files hold every row and error they got back.
- `RedisMonitor`: a `MONITOR` client on the Redis server, keeping the commands run on
  one database: every broker message ever published there and every cache write, even
  those consumed or expired before the scan looks at Redis.
- `Service`: a child process in its own process group, output to a file, stopped with
  its children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

from tests.processes import free_port


class WireRecorder:
    def __init__(self, *, upstream: tuple[str, int], directory: Path) -> None:
        self.upstream = upstream
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._count = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="wire-accept", daemon=True)

    def __enter__(self) -> WireRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    @property
    def connections(self) -> int:
        return self._count

    def files(self, direction: str) -> list[Path]:
        return sorted(self.directory.glob(f"conn-*-{direction}.bin"))

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._count += 1
                number = self._count
                self._sockets += [client, server]
            for source, target, direction in ((client, server, "c2s"), (server, client, "s2c")):
                path = self.directory / f"conn-{number:05d}-{direction}.bin"
                threading.Thread(
                    target=self._pump, args=(source, target, path), daemon=True
                ).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, path: Path) -> None:
        with path.open("wb") as out:
            while True:
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                out.write(data)
                out.flush()
                try:
                    target.sendall(data)
                except OSError:
                    break
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class RedisMonitor:
    """MONITOR on a Redis server; keeps the lines of one database in a file."""

    def __init__(self, *, host: str, port: int, db: int, path: Path) -> None:
        self.address = (host, port)
        self.marker = f"[{db} ".encode()
        self.path = path
        self.lines = 0
        self._sock: socket.socket | None = None
        self._ready = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="redis-monitor", daemon=True)

    def __enter__(self) -> RedisMonitor:
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("Redis MONITOR did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self._sock.close()
        self._thread.join(10)

    def _run(self) -> None:
        self._sock = socket.create_connection(self.address)
        self._sock.sendall(b"MONITOR\r\n")
        pending = b""
        with self.path.open("wb") as out:
            while True:
                try:
                    data = self._sock.recv(1 << 20)
                except OSError:
                    break
                if not data:
                    break
                pending += data
                *lines, pending = pending.split(b"\r\n")
                for line in lines:
                    if line == b"+OK":
                        self._ready.set()
                    elif self.marker in line[:64]:
                        out.write(line + b"\n")
                        self.lines += 1
                out.flush()


class Service:
    """A child process (and its children) in a process group of its own."""

    def __init__(
        self, name: str, command: list[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def is_running(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the group (a warm shutdown), SIGKILL whatever is left after `timeout`."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self._out.close()
