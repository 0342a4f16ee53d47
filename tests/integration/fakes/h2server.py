"""An HTTP/2 server for the FCM and APNs fakes that can be told to be slow and to misbehave.

Cleartext with prior knowledge, as the providers speak to a local fake. Every answer waits
`Faults.latency` seconds (a data centre's round trip), and requests picked by their number
(counted from 1 across the server, in the order they arrive) meet a fault instead of the
handler:

- `reset`: the stream is reset with REFUSED_STREAM (RFC 9113 section 8.7: not processed);
- `drop`: the TCP connection is cut at once; every request still waiting on it goes
  unanswered and unprocessed;
- `goaway`: GOAWAY naming the last stream this connection answered; the requests after
  that one are not processed (the client may send them again on a new connection, RFC
  9113 section 6.8), and the connection closes a moment later, as servers do to let the
  GOAWAY reach the client before the socket goes.

A request that met a fault never reaches the handler, so a fake that records what its
handler accepted records exactly what a real service would have delivered.

Built on h2 rather than hypercorn: an ASGI application cannot reset a stream or send GOAWAY.
It runs its own event loop in a thread of the test process, or in a process of its own
(`python -m tests.integration.fakes.h2server`, for the benchmarks).
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from tests.integration.fakes.server import Request, Response, ThreadedServer

Handler = Callable[[Request], Response]

# What APNs advertises once a connection is authenticated; more than any test puts in flight.
MAX_CONCURRENT_STREAMS = 1000
GOAWAY_CLOSE_SECONDS = 0.5


@dataclass
class Faults:
    latency: float = 0.0
    reset: frozenset[int] = frozenset()
    drop: frozenset[int] = frozenset()
    goaway: frozenset[int] = frozenset()


@dataclass
class _Stream:
    headers: list[tuple[str, str]]
    body: bytearray = field(default_factory=bytearray)


class _Connection:
    def __init__(self, server: H2Server, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.streams: dict[int, _Stream] = {}
        self.waiting: dict[int, asyncio.Task[None]] = {}
        self.answered = 0  # the highest stream id answered
        self.window_open = asyncio.Event()
        self.going_away = False
        self.closed = False

    def start(self) -> None:
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.server.max_streams
            },
        )
        self.h2.initiate_connection()
        self.flush()

    def flush(self) -> None:
        if not self.closed:
            self.writer.write(self.h2.data_to_send())

    def receive(self, data: bytes) -> None:
        if self.going_away:
            return  # what the client sends after our GOAWAY is discarded (RFC 9113 6.8)
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = _Stream(list(event.headers))  # type: ignore[arg-type]
            elif isinstance(event, h2.events.DataReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream.body += event.data
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.request_complete(event.stream_id)
            elif isinstance(event, h2.events.WindowUpdated):
                self.window_open.set()
            elif isinstance(event, h2.events.StreamReset):
                task = self.waiting.pop(event.stream_id, None)
                if task is not None:
                    task.cancel()
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.close()
                return
            if self.closed:
                return
        self.flush()

    def request_complete(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None or self.going_away:
            return
        number = next(self.server.numbers)
        faults = self.server.faults
        if number in faults.reset:
            self.server.faulted.append(("reset", number))
            self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        if number in faults.drop:
            self.server.faulted.append(("drop", number))
            self.close()
            return
        if number in faults.goaway:
            self.server.faulted.append(("goaway", number))
            self.go_away()
            return
        self.server.in_flight += 1
        self.server.most_in_flight = max(self.server.most_in_flight, self.server.in_flight)
        task = asyncio.get_running_loop().create_task(self.answer(stream_id, stream))
        self.waiting[stream_id] = task
        task.add_done_callback(lambda _: self.finished(stream_id))

    def finished(self, stream_id: int) -> None:
        self.waiting.pop(stream_id, None)
        self.server.in_flight -= 1

    async def answer(self, stream_id: int, stream: _Stream) -> None:
        if self.server.faults.latency:
            await asyncio.sleep(self.server.faults.latency)
        if self.closed or self.going_away:
            return
        pseudo = dict(item for item in stream.headers if item[0].startswith(":"))
        request = Request(
            method=pseudo.get(":method", ""),
            path=pseudo.get(":path", ""),
            headers={k.lower(): v for k, v in stream.headers if not k.startswith(":")},
            body=bytes(stream.body),
            http_version="2",
        )
        try:
            response = self.server.handler(request)
        except Exception as error:  # a bug in a fake must fail the test, not look transient
            self.server.errors.append(error)
            response = Response(599, b"fake server error")
        headers = [
            (":status", str(response.status)),
            ("content-length", str(len(response.body))),
            *response.headers.items(),
        ]
        self.h2.send_headers(stream_id, headers, end_stream=not response.body)
        body = response.body
        while body and not self.closed:
            room = min(
                self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size
            )
            if room <= 0:
                self.window_open.clear()
                self.flush()
                await self.window_open.wait()
                continue
            chunk, body = body[:room], body[room:]
            self.h2.send_data(stream_id, chunk, end_stream=not body)
        self.answered = max(self.answered, stream_id)
        self.flush()

    def go_away(self) -> None:
        """Stop taking streams: nothing waiting here is processed; the client may resend it."""
        for task in list(self.waiting.values()):
            task.cancel()
        self.going_away = True
        self.h2.close_connection(last_stream_id=self.answered)
        self.flush()
        asyncio.get_running_loop().call_later(GOAWAY_CLOSE_SECONDS, self.close)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in list(self.waiting.values()):
            task.cancel()
        self.writer.close()


class H2Server(ThreadedServer):
    def __init__(
        self,
        handler: Handler,
        *,
        faults: Faults | None = None,
        max_streams: int = MAX_CONCURRENT_STREAMS,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__()
        self.tls = tls  # HTTPS, with what ALPN the context offers, instead of cleartext
        if tls is not None:
            self.url = self.url.replace("http://", "https://", 1)
        self.handler = handler
        self.max_streams = max_streams  # what each connection's SETTINGS allows at once
        self.faults = faults or Faults()
        self.numbers = itertools.count(1)
        self.faulted: list[tuple[str, int]] = []
        self.connections = 0

    def start(self) -> H2Server:
        self._run(self.serve())
        return self

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        connections: set[_Connection] = set()
        readers: set[asyncio.Task[Any]] = set()

        async def serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connection = _Connection(self, writer)
            connections.add(connection)
            task = asyncio.current_task()
            if task is not None:
                readers.add(task)
            self.connections += 1
            connection.start()
            try:
                while not connection.closed:
                    data = await reader.read(65536)
                    if not data:
                        break
                    connection.receive(data)
                    await writer.drain()
            except (ConnectionError, h2.exceptions.ProtocolError):
                pass
            finally:
                connection.close()
                connections.discard(connection)
                if task is not None:
                    readers.discard(task)

        server = await asyncio.start_server(serve_one, sock=self._socket, ssl=self.tls)
        self._started.set()
        async with server:
            await self._stopping.wait()
            for connection in list(connections):
                connection.close()
            # Each reader sees its connection end and returns (rather than being cancelled
            # when the loop closes, which asyncio reports as an error).
            await asyncio.wait(readers, timeout=2) if readers else None
