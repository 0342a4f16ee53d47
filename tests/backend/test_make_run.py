"""`make run`'s own start-up path: migrate, demo data, API + worker + beat, Ctrl-C stops all.

It runs the real target on SQLite and the filesystem broker in a temporary folder, as a
newcomer would, and checks /healthz and the docs page answer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import processes

ROOT = Path(__file__).resolve().parents[2]
# A code as the e-mail sets it out, on a line of its own (tests/smtp.py reads the same).
CODE_LINE = re.compile(r"^ {4}(\d{4} \d{4})$", re.MULTILINE)
# Variables the test settings put in this process's environment; `make run` must not see them.
STRIPPED = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "JOURNAL_KEKS",
    "ALLOWED_HOSTS",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "SECURE_COOKIES",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
}


def call(url: str, body: dict | None = None, token: str = "") -> tuple[int, dict]:
    """A JSON request; the status and the JSON answer (an empty one for 204)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            text = response.read().decode()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode() or "{}")


def code_in_terminal(log: Path, seen: int) -> str:
    """The next code the worker prints (the console e-mail backend), after `seen` codes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        codes = CODE_LINE.findall(log.read_text(errors="replace"))
        if len(codes) > seen:
            return str(codes[seen]).replace(" ", "")
        time.sleep(0.5)
    raise AssertionError(log.read_text()[-3000:])


def newcomer_registers_writes_and_resets_the_password(base: str, log: Path) -> None:
    """The README's path: register, confirm with the code from the terminal, write an
    entry, reset the password with a code from the terminal; the old token answers 401,
    the new password signs in, the entry reads back unchanged."""
    api, email = f"{base}/api/v1", "newcomer@example.org"
    registered = {"email": email, "password": "a long passphrase 1", "display_name": "Sam"}
    assert call(f"{api}/auth/register/", registered)[0] == 202
    status, signed_in = call(
        f"{api}/auth/register/confirm/",
        {"email": email, "code": code_in_terminal(log, 0), "password": "a long passphrase 1"},
    )
    assert status == 201, signed_in
    token = signed_in["token"]
    entry = {"kind": "note", "title": "First", "body": "Words that must survive a reset."}
    status, written = call(f"{api}/entries/", entry, token)
    assert status == 201, written
    assert call(f"{api}/auth/password/reset/", {"email": email})[0] == 202
    reset = {"email": email, "code": code_in_terminal(log, 1), "new_password": "a newer one 2"}
    assert call(f"{api}/auth/password/reset/confirm/", reset)[0] == 204
    assert call(f"{api}/me/", token=token)[0] == 401
    status, again = call(f"{api}/auth/login/", {"email": email, "password": "a newer one 2"})
    assert status == 200, again
    status, read = call(f"{api}/entries/{written['id']}/", token=again["token"])
    assert (status, read["title"], read["body"]) == (200, entry["title"], entry["body"])


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        return response.status, response.read().decode()


@pytest.mark.slow
def test_make_run_serves_health_and_docs_then_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = processes.free_port()
    env = {key: value for key, value in os.environ.items() if key not in STRIPPED}
    env["AFTERGLOW_LOCAL_DIR"] = str(tmp_path / "local")
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, _ = get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, Path(log.name).read_text()[-3000:]
        status, html = get(f"{base}/api/docs/")
        assert status == 200
        assert "swagger-ui" in html
        status, _ = get(f"{base}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
        assert status == 200
        # The supervisor prints where everything is once the API answers.
        banner_deadline = time.monotonic() + 30
        while time.monotonic() < banner_deadline:
            # The full address: the access line of this test's own GET /api/docs/ has
            # the path alone.
            if f"{base}/api/docs/" in Path(log.name).read_text():
                break
            time.sleep(0.25)
        output = Path(log.name).read_text()
        assert f"{base}/api/docs/" in output
        assert "patient@demo.afterglow.test" in output
        newcomer_registers_writes_and_resets_the_password(base, Path(log.name))
        assert (tmp_path / "local" / "afterglow.sqlite3").exists()
        # The file broker keeps every folder under the local directory, none in the checkout.
        assert (tmp_path / "local" / "broker" / "control").is_dir()
        assert not (ROOT / "control").exists()
    finally:
        # Ctrl-C in a terminal sends SIGINT to the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    output = Path(log.name).read_text()
    for name in ("web", "worker", "beat"):
        assert f"{name} stopped" in output, output[-3000:]
    leftover = subprocess.run(
        ["pgrep", "-g", str(process.pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert leftover.stdout.strip() == "", "processes left running after Ctrl-C"


def make_run_commands(*arguments: str, **environment: str) -> str:
    """The commands `make run` would run (make -n: nothing is started)."""
    env = {key: value for key, value in os.environ.items() if key not in STRIPPED}
    env.update(environment)
    result = processes.run(
        ["make", "-n", "--no-print-directory", "run", *arguments], env=env, check=True
    )
    return result.stdout


def test_make_run_binds_the_loopback_address_whatever_the_environment_says() -> None:
    # Some shells and container images export HOST (a host name, or 0.0.0.0); a DEBUG
    # server must not follow it onto the network.
    every_interface = "0.0.0.0"  # noqa: S104 (what the environment must not achieve)
    commands = make_run_commands("PORT=8123", HOST=every_interface)
    assert "BIND=127.0.0.1:8123 " in commands
    assert every_interface not in commands


def test_make_run_binds_elsewhere_only_when_told_on_the_command_line() -> None:
    assert "BIND=0.0.0.0:8000 " in make_run_commands("HOST=0.0.0.0")
