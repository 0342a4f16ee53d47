"""What the tests need to run other programs: a command run to its end (from the
repository's root unless told otherwise, text output captured, a time limit, the exit status
left for the test to assert unless `check`), a free port for a server, a fresh database of
its own for a service (dropped again after), and waiting until something is ready."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    timeout: float = 60,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(name: str) -> str:
    """DATABASE_URL (by default the local server's) with the database name replaced by
    `name`."""
    base = urllib.parse.urlsplit(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/afterglow")
    )
    return urllib.parse.urlunsplit(base._replace(path=f"/{name}"))


def _name_and_server(url: str) -> tuple[str, str]:
    """The name of the database `url` names, and the URL of its server's maintenance
    database (where databases are dropped and created)."""
    parts = urllib.parse.urlsplit(url)
    server = parts._replace(scheme="postgresql", path="/postgres")
    return parts.path.lstrip("/"), urllib.parse.urlunsplit(server)


def drop_database(url: str) -> None:
    """Drops the database `url` names, if there is one, closing its connections."""
    import psycopg

    name, server = _name_and_server(url)
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def recreate_database(url: str) -> None:
    """Drops the database `url` names, closing its connections, and creates it empty."""
    import psycopg

    drop_database(url)
    name, server = _name_and_server(url)
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> None:
    """Polls `condition` until it holds; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
