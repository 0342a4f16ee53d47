"""`make run`'s supervisor: runs the API, a Celery worker and Celery beat together.

    python -m backend.devserver --url http://127.0.0.1:8000 web="..." worker="..." beat="..."

Each command is the same one the Makefile's `web`, `worker` and `beat` targets run (and
docker-compose's services). Ctrl-C (SIGINT) or SIGTERM stops all three; if one of them
exits on its own, the others are stopped too, so nothing is left half-running.
"""

from __future__ import annotations

import argparse
import http.client
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from types import FrameType

STOP_TIMEOUT_SECONDS = 15.0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (OSError, http.client.HTTPException):
        return False


def _stop(processes: dict[str, subprocess.Popen[bytes]], sig: int) -> int:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(sig)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    worst = 0
    for name, process in processes.items():
        try:
            code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", file=sys.stderr)
            process.kill()
            code = process.wait()
        print(f"{name} stopped (exit {code})", file=sys.stderr)
        if code not in (0, -signal.SIGINT, -signal.SIGTERM):
            worst = worst or 1
    return worst


def _banner(url: str) -> str:
    return (
        "\n"
        f"  Afterglow is running.\n"
        f"  API:        {url}/api/v1/\n"
        f"  API docs:   {url}/api/docs/  (ReDoc: {url}/api/redoc/)\n"
        f"  Dashboard:  {url}/dashboard/\n"
        f"  Health:     {url}/healthz  {url}/readyz\n"
        f"  Ctrl-C stops the API, the worker and beat.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("commands", nargs="+", help="name=command")
    args = parser.parse_args(argv)

    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    for item in args.commands:
        name, _, command = item.partition("=")
        processes[name] = subprocess.Popen(shlex.split(command))  # noqa: S603

    # The banner waits for the API's first healthy answer, however long a slow machine
    # takes to start it; watching for an exited child goes on meanwhile.
    announced = False
    next_probe = time.monotonic()
    while not stopping:
        exited = [name for name, process in processes.items() if process.poll() is not None]
        if exited:
            print(f"{', '.join(exited)} exited; stopping the rest", file=sys.stderr)
            _stop(processes, signal.SIGTERM)
            return 1
        if not announced and time.monotonic() >= next_probe:
            announced = _healthy(args.url)
            next_probe = time.monotonic() + 0.3
            if announced:
                print(_banner(args.url), flush=True)
        time.sleep(0.2)
    # SIGTERM is the graceful stop for gunicorn and a warm shutdown for Celery; a second
    # SIGINT would make the worker shut down cold.
    return _stop(processes, signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
