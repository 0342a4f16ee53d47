"""gunicorn settings, read from the environment (the same in `make run` and compose)."""

import gc
import json
import os
import re
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]
from gunicorn import util as gunicorn_util

from backend.problem_codes import ProblemCode

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 10
# The request-id middleware writes one structured access line a request; gunicorn's own
# access log would repeat it without the request id.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Trust X-Forwarded-* only from the proxies named here (none by default).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# A full garbage collection walks every object the process holds (about 150,000 in a worker
# once Django, DRF and the app are loaded): about 100 ms, in the middle of whichever
# request sets it off, every thousand requests or so, and with it the requests queued
# behind it. That was the p99 of the capacity run. What a worker loads lives as long as the
# worker, so it is frozen out of the collections (gc.freeze): when the worker has loaded
# the app (after a collection, so that no garbage is kept), and once more when its first
# requests have loaded what Django and DRF load lazily (without a collection, which would
# be the very pause this avoids: what is garbage at that moment, a request's cycles, stays
# in memory). A full collection then walks only what came after: about 10 ms, measured in
# process over 3,000 creates and lists.
GC_FREEZE_AGAIN_AFTER_REQUESTS = 200


def post_worker_init(worker: object) -> None:
    gc.collect()
    gc.freeze()


def post_request(worker: Any, req: object, environ: object, resp: object) -> None:
    if getattr(worker, "nr", 0) == GC_FREEZE_AGAIN_AFTER_REQUESTS:
        gc.freeze()


def pre_request(worker: object, req: object) -> None:
    """Log nothing here. gunicorn's default hook logs every request's raw path at debug
    level, and a path can carry whatever a client put there (a journal sentence
    misplaced in a URL included); backend.middleware writes the access line, with the
    request id and the path's free-text segments left out."""


# "Invalid request from ip=<ip>: Invalid HTTP Header: '<the input>'": the address and the
# kind of error (gunicorn's own words, letters and spaces) are kept, the input is not.
_INVALID_REQUEST = re.compile(r"^(Invalid request from ip=\S*?: [A-Za-z ]{0,60})")


class Logger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, without the text of requests it refuses or fails on.

    gunicorn quotes a malformed request line or header in its warning (a client that
    did not encode a query puts the words themselves there) and logs the full URI, query
    string included, with a request that failed outside Django.
    """

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        text = str(msg)
        if text.startswith("Invalid request from ip="):
            match = _INVALID_REQUEST.match(text)
            kept = match.group(1).rstrip() if match else "Invalid request"
            msg, args = kept + " (the request's text is not logged)", ()
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if str(msg).startswith("Error handling request"):
            msg, args = "Error handling request (its URI is not logged)", ()
        super().exception(msg, *args, **kwargs)


logger_class = Logger

# gunicorn answers some requests itself, before Django sees them: a request line longer
# than limit_request_line (414), headers over its limits (431), a malformed request (400).
# Its own page is HTML and quotes the refused line or header back (a proxy in front may
# keep it in its error log). Send the API's problem document instead (backend/errors.py:
# every 4xx and 5xx is one), with the status and reason only.
_PROBLEMS = {
    400: (ProblemCode.BAD_REQUEST, "The request could not be understood."),
    403: (ProblemCode.PERMISSION_DENIED, "The request was refused."),
    414: (ProblemCode.URI_TOO_LONG, "The URL is too long."),
    417: (ProblemCode.EXPECTATION_FAILED, "The Expect header cannot be met."),
    431: (ProblemCode.HEADERS_TOO_LARGE, "The request headers are too large."),
    500: (ProblemCode.SERVER_ERROR, "Something went wrong on our side."),
    501: (ProblemCode.NOT_IMPLEMENTED, "This method or transfer encoding is not supported."),
}


def _write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    code, detail = _PROBLEMS.get(status_int, (ProblemCode.ERROR, reason))
    body = json.dumps(
        {
            "type": f"urn:afterglow:problem:{code}",
            "title": reason,
            "status": status_int,
            "detail": detail,
            "code": code,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin1")
    gunicorn_util.write_nonblock(sock, head + body)


gunicorn_util.write_error = _write_problem
