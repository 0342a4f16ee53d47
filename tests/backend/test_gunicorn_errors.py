"""Requests gunicorn refuses itself (too long a URL, too large headers) answer the API's
problem document, as everything else does, and quote nothing of the request."""

from __future__ import annotations

import json

import pytest

from backend import gunicorn_conf  # noqa: F401 (installs the error writer)

REFUSED = "/api/v1/entries/?title=my%20private%20words" + "&limit=1" * 1000


class Socket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: bool) -> None: ...

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        return len(data)

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (414, "Request-URI Too Long", "uri_too_long"),
        (431, "Request Header Fields Too Large", "headers_too_large"),
        (400, "Bad Request", "bad_request"),
    ],
)
def test_a_refused_request_answers_a_problem_document(status, reason, code) -> None:
    from gunicorn import util  # type: ignore[import-untyped]

    socket = Socket()
    util.write_error(socket, status, reason, f"Invalid request line '{REFUSED}'")
    head, _, body = b"".join(socket.sent).partition(b"\r\n\r\n")

    assert head.startswith(f"HTTP/1.1 {status} {reason}".encode())
    assert b"Content-Type: application/problem+json" in head
    assert f"Content-Length: {len(body)}".encode() in head
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"urn:afterglow:problem:{code}"
    assert {"title", "detail"} <= problem.keys()
    assert b"private" not in b"".join(socket.sent)
