"""The HTTP/2 client of APNs and FCM: one connection per origin and process, every push in
flight a stream on it, written on h2 (the protocol library httpx's HTTP/2 support is made of).

Why not httpcore's pool, which this replaced: a push is one small POST and one small answer,
and at a provider's 100 ms a process has a hundred of them in flight. Through httpcore each
cost about 600 µs of CPU (its locks, anyio's streams and cancel scopes, a read per stream);
over h2 directly, an asyncio protocol that hands each answer to its stream's future, about
200 µs (the same local HTTP/2 server, the same 4,000 requests with 100 in flight). The
CPU per push is what bounds a worker's pushes a second (docs/operations.md, "Pushes a
second"). It also reads an answer that arrives together with a GOAWAY, which httpcore 1.0
failed (a push the provider accepted looked failed and was sent twice).

What a request can meet, and what the caller sees (httpcore's exception classes, so that
every provider treats HTTP/1.1 and HTTP/2 failures alike, `http.TRANSPORT_ERRORS`):
- no connection, or TLS without `h2` chosen by ALPN: `ConnectError`;
- no answer within PUSH_TIMEOUT_SECONDS, from the request's start (waiting for a
  connection or a free stream included): `ReadTimeout`; its stream is reset (CANCEL);
- its stream reset by the server (REFUSED_STREAM and others): `RemoteProtocolError`;
- GOAWAY: the streams the server names as taken (up to its last stream id) are still
  answered and read; the later ones were not processed (RFC 9113 section 6.8) and go again
  at once, once, on a new connection;
- the connection lost: the streams still waiting fail with `ReadError` (their pushes may
  have been delivered: the prompt's collapse key makes a phone show a repeat once).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import httpcore

from integration.providers.http import PushResponse, quiet_third_party_loggers
from integration.providers.loop import LoopLocal

_USER_AGENT = b"afterglow-push"
_CONFIG = h2.config.H2Configuration(client_side=True, header_encoding=None)
_TRIES = 2  # a request the server did not process (GOAWAY) goes again once


class _NotProcessed(Exception):
    """The server did not take the stream (it is going away): safe to send again."""


@dataclass
class _Stream:
    answer: asyncio.Future[PushResponse]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)


class _Session(asyncio.Protocol):
    """One HTTP/2 connection: streams out, answers back to each stream's future."""

    def __init__(self, scheme: bytes, authority: bytes) -> None:
        self._scheme = scheme
        self._authority = authority
        self._h2 = h2.connection.H2Connection(config=_CONFIG)
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}
        self._room: list[asyncio.Future[None]] = []  # waiting for a stream or window
        self._flush_due = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # No new stream once the server is going away, the connection is lost, or broken.
        self.closed = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream's: it writes
        self._h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            self._lose(httpcore.RemoteProtocolError(f"HTTP/2 protocol error: {error!r}"))
            return
        for event in events:
            self._on(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(httpcore.ReadError("the connection was closed"))

    # requests

    @property
    def streams(self) -> int:
        return len(self._streams)

    def has_room(self) -> bool:
        """Whether a new stream goes out at once (the server's limit not reached)."""
        return not self.closed and self._stream_free()

    def _stream_free(self) -> bool:
        return len(self._streams) < self._h2.remote_settings.max_concurrent_streams

    async def request(
        self, path: bytes, headers: list[tuple[bytes, bytes]], content: bytes
    ) -> PushResponse:
        await self._wait(self._stream_free)
        if self.closed:
            raise _NotProcessed
        try:
            stream_id = self._h2.get_next_available_stream_id()
            self._h2.send_headers(
                stream_id,
                [
                    (b":method", b"POST"),
                    (b":scheme", self._scheme),
                    (b":authority", self._authority),
                    (b":path", path),
                    *headers,
                    (b"content-length", str(len(content)).encode()),
                ],
                end_stream=not content,
            )
        except h2.exceptions.NoAvailableStreamIDError:
            self._go_away()
            raise _NotProcessed from None
        except h2.exceptions.ProtocolError as error:
            if self.closed:
                raise _NotProcessed from None
            raise httpcore.LocalProtocolError(repr(error)) from None
        stream = _Stream(asyncio.get_running_loop().create_future())
        self._streams[stream_id] = stream
        try:
            await self._send_body(stream_id, content)
            self._schedule_flush()
            return await stream.answer
        except BaseException:
            self._cancel(stream_id)
            raise

    async def _send_body(self, stream_id: int, content: bytes) -> None:
        """Send the body as the flow-control windows allow. A stream the server answered
        or reset meanwhile takes no more of it: its answer stands."""
        view = memoryview(content)
        room = 0

        def has_room() -> bool:
            nonlocal room
            if stream_id not in self._streams:
                return True
            room = min(
                self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size
            )
            return room > 0

        while view:
            await self._wait(has_room)
            if stream_id not in self._streams:
                return  # answered, reset, or failed with the connection: its future says
            if room <= 0:  # the connection closed with this stream's body unsent
                raise _NotProcessed
            chunk, view = view[:room], view[room:]
            try:
                self._h2.send_data(stream_id, chunk.tobytes(), end_stream=not view)
            except h2.exceptions.ProtocolError as error:
                raise httpcore.LocalProtocolError(repr(error)) from None
            if view:
                self._flush()

    async def _wait(self, ready: Callable[[], bool]) -> None:
        """Until `ready()`; a connection closed meanwhile ends the wait (the caller says
        what that means for its stream)."""
        while True:
            if ready() or self.closed:
                return
            waiter = asyncio.get_running_loop().create_future()
            self._room.append(waiter)
            await waiter

    def _cancel(self, stream_id: int) -> None:
        if self._streams.pop(stream_id, None) is None or self.closed:
            return
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        self._schedule_flush()

    # events

    def _on(self, event: h2.events.Event) -> None:
        stream = self._streams.get(getattr(event, "stream_id", 0))
        if isinstance(event, h2.events.ResponseReceived):
            if stream is not None:
                stream.headers = list(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            if stream is not None and event.data:
                stream.body += event.data
            self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            if stream is not None:
                del self._streams[event.stream_id]
                _answer(stream)
                self._wake()
        elif isinstance(event, h2.events.StreamReset):
            if stream is not None:
                del self._streams[event.stream_id]
                _fail(stream, httpcore.RemoteProtocolError(f"stream reset: {event.error_code!r}"))
                self._wake()
        elif isinstance(event, h2.events.ConnectionTerminated):
            last = event.last_stream_id or 0
            for stream_id in [number for number in self._streams if number > last]:
                _fail(self._streams.pop(stream_id), _NotProcessed())
            self._go_away()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            if not self.ready.done():
                self.ready.set_result(None)
            self._wake()
        elif isinstance(event, h2.events.WindowUpdated):
            self._wake()

    def _go_away(self) -> None:
        """Take no new stream; the ones still waiting are answered or lost with the
        connection."""
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(httpcore.ConnectError("the server went away"))
            self.ready.exception()  # read: nobody may be waiting for it
        self._wake()
        if not self._streams and self._transport is not None:
            self._transport.close()

    def _lose(self, error: Exception) -> None:
        self.closed = True
        for stream in self._streams.values():
            _fail(stream, error)
        self._streams.clear()
        if not self.ready.done():
            self.ready.set_exception(httpcore.ConnectError(str(error)))
            self.ready.exception()  # read: nobody may be waiting for it
        self._wake()
        if self._transport is not None:
            self._transport.close()

    def _wake(self) -> None:
        waiting, self._room = self._room, []
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)

    # writing: what the streams of one pass of the loop send goes out in one write

    def _schedule_flush(self) -> None:
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        data = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)
        if self.closed and not self._streams and self._transport is not None:
            self._transport.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _answer(stream: _Stream) -> None:
    if stream.answer.done():
        return
    status = 0
    headers: dict[str, str] = {}
    for name, value in stream.headers:
        if name == b":status":
            status = int(value)
        elif not name.startswith(b":"):
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
    stream.answer.set_result(PushResponse(status, headers, bytes(stream.body)))


def _fail(stream: _Stream, error: Exception) -> None:
    if not stream.answer.done():
        stream.answer.set_exception(error)
        # Read here, so that an answer nobody awaits any more (its caller timed out) is
        # not reported as never retrieved.
        stream.answer.exception()


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> tuple[_Origin, bytes, bytes]:
        """The origin, the authority and the path (with the query) of `url`."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise httpcore.UnsupportedProtocol(f"not an http(s) URL: {parts.scheme}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme, parts.hostname, port), parts.netloc.encode(), path.encode()


class Http2Transport:
    """POST over HTTP/2: TLS with ALPN `h2` for https, prior knowledge for http (the local
    fakes). Each event loop (so each process: loop.py) keeps its own connections: one per
    origin, and another only while every one is at the stream limit its server set, up to
    `max_connections`."""

    def __init__(
        self, *, timeout: float, max_connections: int = 4, tls: ssl.SSLContext | None = None
    ) -> None:
        self._timeout = timeout
        # The system's trust store unless told otherwise; ALPN offers only h2.
        self._tls = tls or ssl.create_default_context()
        self._tls.set_alpn_protocols(["h2"])
        self._max_connections = max(1, max_connections)
        self._sessions: LoopLocal[dict[_Origin, list[asyncio.Task[_Session]]]] = LoopLocal(dict)

    async def post(self, url: str, *, headers: dict[str, str], content: bytes) -> PushResponse:
        """POST and read the whole answer; raises one of `http.TRANSPORT_ERRORS` when there
        is none. Redirects are not followed."""
        origin, authority, path = _Origin.of(url)
        fields = [(b"user-agent", _USER_AGENT)] + [
            (name.lower().encode(), value.encode()) for name, value in headers.items()
        ]
        try:
            async with asyncio.timeout(self._timeout):
                for attempt in range(_TRIES):
                    session = await self._session(origin, authority)
                    try:
                        return await session.request(path, fields, content)
                    except _NotProcessed:
                        if attempt == _TRIES - 1:
                            raise httpcore.RemoteProtocolError(
                                "the server went away before taking the request"
                            ) from None
        except TimeoutError:
            raise httpcore.ReadTimeout(f"no answer within {self._timeout:g} s") from None
        raise httpcore.RemoteProtocolError("no try left")  # pragma: no cover (the loop returns)

    async def _session(self, origin: _Origin, authority: bytes) -> _Session:
        """A connection with a stream free; else one being made; else a new one; else the
        least busy, where the request waits for a stream."""
        connections = self._sessions.get().setdefault(origin, [])
        while True:
            connections[:] = [task for task in connections if not task.done() or _usable(task)]
            made = [task.result() for task in connections if task.done()]
            for session in made:
                if session.has_room():
                    return session
            making = next((task for task in connections if not task.done()), None)
            if making is None and len(connections) < self._max_connections:
                making = asyncio.get_running_loop().create_task(
                    _connect(origin, authority, self._tls, timeout=self._timeout)
                )
                connections.append(making)
            if making is None:
                return min(made, key=lambda session: session.streams)
            # A caller that gives up must not cancel the connection the others wait for.
            await asyncio.shield(making)

    def close(self) -> None:
        """Close this process's connections (from any thread but the push loop's)."""
        loop, sessions = self._sessions.peek()
        self._sessions.forget()
        if not sessions or loop is None or not loop.is_running():
            return

        def close_all() -> None:
            for connections in sessions.values():
                for task in connections:
                    if task.done() and not task.cancelled() and task.exception() is None:
                        task.result().close()
                    else:
                        task.cancel()

        loop.call_soon_threadsafe(close_all)


def _usable(connecting: asyncio.Task[_Session]) -> bool:
    return (
        not connecting.cancelled()
        and connecting.exception() is None
        and not connecting.result().closed
    )


async def _connect(
    origin: _Origin, authority: bytes, context: ssl.SSLContext, *, timeout: float
) -> _Session:
    """A new connection that has said how many streams it takes, within `timeout` (so that
    a host that never answers is asked again by the next push, not waited on by every push
    after it)."""
    quiet_third_party_loggers()  # hpack logs the headers it encodes (bearer tokens)
    tls = context if origin.scheme == "https" else None
    loop = asyncio.get_running_loop()
    session: _Session | None = None
    try:
        async with asyncio.timeout(timeout):
            transport, session = await loop.create_connection(
                lambda: _Session(origin.scheme.encode(), authority),
                origin.host,
                origin.port,
                ssl=tls,
            )
            if tls is not None:
                chosen: Any = transport.get_extra_info("ssl_object")
                if chosen is None or chosen.selected_alpn_protocol() != "h2":
                    session.close()
                    raise httpcore.ConnectError("the server does not speak HTTP/2 (ALPN)")
            # The server's first SETTINGS says how many streams it takes at once.
            await session.ready
    except TimeoutError:
        if session is not None:
            session.close()
        raise httpcore.ConnectTimeout(f"no HTTP/2 connection within {timeout:g} s") from None
    except OSError as error:  # ssl.SSLError included
        raise httpcore.ConnectError(f"{error.__class__.__name__}: {error}") from None
    return session
