"""A fix to httpcore's HTTP/2 client: an answer that arrives together with a GOAWAY is read,
not failed.

When a server sends GOAWAY (it is closing the connection: a restart, connection rotation,
an error), the streams it names as taken (up to its last stream id) have been or will be
answered; the ones after it were not processed and may be sent again elsewhere (RFC 9113
section 6.8). httpcore 1.0 sends the latter again on a new connection, as it should. But a
stream that is waiting for the connection's read lock when another stream reads the GOAWAY
fails with RemoteProtocolError, even when its whole answer arrived in that same read and
sits in its buffer: httpcore checks for the GOAWAY before it checks the buffer (the race
discussed in encode/httpcore#1054, still open). For a push that means a notification the
provider accepted looks failed and is sent again: a second notification on the phone.

The fix wraps the method that reads for a stream: when it fails while the stream's events
are already buffered, the stream reads them instead. A stream with nothing buffered still
fails, as before: its answer may never come. Applied once, when the first push transport
is made; tests/integration/delivery/test_http2_goaway.py shows the race and that it is
gone. httpcore is pinned below 1.1 (pyproject.toml) so that an upgrade is deliberate.

What it does not cover: a connection cut without GOAWAY. Answers sent just before the cut
may never be read (the socket is closed once a write to it fails), so pushes in flight on
it count as failed and go again later; the collapse key makes the phone show one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpcore

logger = logging.getLogger("afterglow.push")

_lock = threading.Lock()
_MARK = "_afterglow_reads_answers_in_hand"


def keep_answers_that_arrive_with_a_goaway() -> None:
    with _lock:
        try:
            from httpcore._async.http2 import AsyncHTTP2Connection
        except ImportError:  # a future httpcore laid out otherwise: left as it is
            logger.warning("httpcore has no AsyncHTTP2Connection; GOAWAY fix not applied")
            return
        connection: Any = AsyncHTTP2Connection
        original = getattr(connection, "_receive_events", None)
        if original is None or getattr(original, _MARK, False):
            return

        async def receive_events(
            self: Any, request: httpcore.Request, stream_id: int | None = None
        ) -> None:
            try:
                await original(self, request, stream_id)
            except (httpcore.RemoteProtocolError, httpcore.NetworkError):
                if stream_id is not None and self._events.get(stream_id):
                    return  # its answer is here: the caller reads it from the buffer
                raise

        setattr(receive_events, _MARK, True)
        connection._receive_events = receive_events
