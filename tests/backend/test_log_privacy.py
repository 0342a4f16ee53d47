"""What a client puts in a URL or a malformed request stays out of the logs (found by the
leak scan, tests/leakscan/): the access line logs the route with its ids, gunicorn's own
messages leave the refused text out."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import RequestFactory
from gunicorn.config import Config  # type: ignore[import-untyped]

from backend import gunicorn_conf
from backend.middleware import UNMATCHED_PATH, loggable_path

WORDS = "I felt the tightness in my chest"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/healthz", "/healthz"),
        (
            "/api/v1/entries/3f2a1c8e-0f0b-4a53-8a7e-6a1c9b2d4e51/",
            "/api/v1/entries/3f2a1c8e-0f0b-4a53-8a7e-6a1c9b2d4e51/",
        ),
        # A text converter: a UUID is kept, anything else is the placeholder.
        (
            "/dashboard/shares/3f2a1c8e-0f0b-4a53-8a7e-6a1c9b2d4e51/",
            "/dashboard/shares/3f2a1c8e-0f0b-4a53-8a7e-6a1c9b2d4e51/",
        ),
        (f"/dashboard/shares/{WORDS}/", "/dashboard/shares/<str:share_id>/"),
        (f"/api/v1/auth/devices/{WORDS}/", "/api/v1/auth/devices/<str:token_key>/"),
        # The dashboard's catch-all is a regular expression: logged as that.
        (f"/dashboard/{WORDS}/", "/dashboard/.*/$"),
        (f"/api/v1/entries/{WORDS}/", UNMATCHED_PATH),
        (f"/{WORDS}", UNMATCHED_PATH),
    ],
)
def test_the_logged_path_keeps_ids_and_drops_free_text(path: str, logged: str) -> None:
    request = RequestFactory().get(path, {"q": WORDS})
    assert loggable_path(request) == logged


@pytest.mark.django_db
def test_the_access_line_does_not_carry_the_path_a_client_wrote(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="afterglow.access"):
        client.get(f"/api/v1/{WORDS}/")
    [line] = [record for record in caplog.records if record.name == "afterglow.access"]
    assert line.path == UNMATCHED_PATH  # type: ignore[attr-defined]
    assert "tightness" not in str(vars(line))


@pytest.mark.django_db
@pytest.mark.urls("tests.backend.urls_with_failures")
def test_a_server_error_at_a_path_with_words_logs_neither_the_path_nor_the_message(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client.raise_request_exception = False
    with caplog.at_level(logging.DEBUG):
        response = client.get(f"/api/test/boom/{WORDS}")
    assert response.status_code == 500
    logged = [record for record in caplog.records if record.levelno >= logging.INFO]
    assert {record.name for record in logged} >= {"afterglow.errors", "afterglow.access"}
    for record in logged:
        text = f"{record.getMessage()} {vars(record)}"
        assert "tightness" not in text, record.name
        assert "secret journal words" not in text, record.name


class _Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append(msg % args if args else msg)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append(msg % args if args else msg)


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        (
            f"Invalid request from ip=127.0.0.1: Invalid HTTP Version: '{WORDS} HTTP/1.1'",
            "Invalid request from ip=127.0.0.1: Invalid HTTP Version",
        ),
        (
            f'Invalid request from ip=::1: Invalid HTTP Header: "{WORDS}\'s"',
            "Invalid request from ip=::1: Invalid HTTP Header",
        ),
    ],
)
def test_gunicorn_warnings_leave_the_refused_request_out(message: str, kept: str) -> None:
    logger = gunicorn_conf.Logger(Config())
    logger.error_log = _Recorder()
    logger.warning(message)
    [line] = logger.error_log.lines
    assert line.startswith(kept)
    assert "tightness" not in line


def test_gunicorn_errors_leave_the_uri_out() -> None:
    logger = gunicorn_conf.Logger(Config())
    logger.error_log = _Recorder()
    logger.exception("Error handling request %s %s", "GET", f"/x?q={WORDS}")
    assert "tightness" not in logger.error_log.lines[0]


def test_gunicorn_error_pages_do_not_quote_the_request() -> None:
    sent: list[bytes] = []

    class Socket:
        def gettimeout(self) -> float:
            return 0.0

        def setblocking(self, flag: bool) -> None: ...

        def send(self, data: bytes) -> int:
            sent.append(data)
            return len(data)

        def sendall(self, data: bytes) -> None:
            sent.append(data)

    from gunicorn import util  # type: ignore[import-untyped]

    util.write_error(Socket(), 400, "Bad Request", f"Invalid Request Line '{WORDS}'")
    page = b"".join(sent)
    assert page.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"tightness" not in page
