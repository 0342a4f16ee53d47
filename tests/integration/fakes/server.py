"""A tiny ASGI server harness: a handler function served by hypercorn on 127.0.0.1.

hypercorn speaks HTTP/1.1 and HTTP/2 over cleartext (prior knowledge), which the APNs fake
needs. The listening socket is bound before the thread starts, so the URL is known at once
and connections queue until hypercorn accepts them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    http_version: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: object, headers: dict[str, str] | None = None) -> Response:
        return cls(
            status,
            json.dumps(payload).encode(),
            {"content-type": "application/json", **(headers or {})},
        )


Handler = Callable[[Request], Response]


class ThreadedServer:
    """A server on a loopback port, run by an event loop on a thread of its own. The socket
    is bound at once, so the URL is known before the thread starts; `stop` ends the loop
    (its serving coroutine waits on `_stopping`) and checks that the thread is gone."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.errors: list[BaseException] = []
        # Requests being answered (waiting out the latency) now, and at most at once.
        self.in_flight = 0
        self.most_in_flight = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()

    def _run(self, serving: Coroutine[Any, Any, None]) -> None:
        """Runs `serving` on the thread; returns once it has set `_started` (or after 5 s)."""
        self._thread = threading.Thread(target=asyncio.run, args=(serving,), daemon=True)
        self._thread.start()
        self._started.wait(5)

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(5)
            assert not self._thread.is_alive(), "the fake server did not stop"
        else:
            self._socket.close()


class LocalServer(ThreadedServer):
    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__()
        # Each request waits this long before its answer.
        self.latency = latency

    def start(self, handler: Handler) -> None:
        config = Config()
        config.bind = [f"fd://{self._socket.detach()}"]
        config.errorlog = None
        config.graceful_timeout = 0.2
        self._run(self._serve(handler, config))

    async def _serve(self, handler: Handler, config: Config) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._started.set()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    kind = message["type"].rsplit(".", 1)[-1]
                    await send({"type": f"{message['type']}.complete"})
                    if kind == "shutdown":
                        return
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                if self.latency:
                    await asyncio.sleep(self.latency)
            finally:
                self.in_flight -= 1
            request = Request(
                method=scope["method"],
                path=scope["path"],
                headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
                body=body,
                http_version=scope["http_version"],
            )
            try:
                response = handler(request)
            except Exception as error:  # a bug in a fake must fail the test, not look transient
                self.errors.append(error)
                response = Response(599, b"fake server error")
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": response.body})

        await serve(app, config, shutdown_trigger=self._stopping.wait)  # type: ignore[arg-type]
