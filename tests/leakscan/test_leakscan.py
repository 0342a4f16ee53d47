"""The leak scan (`make leakscan`) as part of `make test`.

It starts its own gunicorn and Celery worker on the database `afterglow_leakscan` and
Redis database 8 (LEAKSCAN_DATABASE and LEAKSCAN_REDIS_DB move them), so it needs no
pytest database; it takes about a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import redis

from tests.leakscan import leakscan

REPORT = leakscan.ARTIFACTS / "report.json"
# One at a time: the scan empties its Redis database, where the option test leaves a mark.
pytestmark = pytest.mark.xdist_group("leakscan")


@pytest.mark.slow
def test_no_canary_leaks_out_of_the_sealed_columns() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.leakscan.leakscan"],
        cwd=leakscan.ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = f"{result.stdout[-8000:]}\n{result.stderr[-4000:]}"
    assert result.returncode == 0, output
    report = json.loads(REPORT.read_text())
    assert report["ok"], output
    assert all(not place["hits"] for place in report["places"]), output
    controls = {control["name"]: control["value"] for control in report["controls"]}
    # The positive control: the patient reads every stored text back, decrypted, so the
    # search would have found a canary anywhere else too.
    assert controls["patient's own answers (decrypted)"] > 0, output
    # The e-mail the service sent (codes, notices) was scanned too.
    assert controls["e-mails received (codes, notices)"] > 0, output
    assert "e-mail: every message sent" in {place["name"] for place in report["places"]}
    assert all(value > 0 for value in controls.values()), output


@pytest.mark.parametrize("argument", ["--help", "--no-such-option"])
def test_an_option_answers_before_anything_is_touched(argument: str) -> None:
    # The scan drops its database and empties its Redis database as it starts: asking for
    # help, or a mistyped option, must do neither (nor start a service).
    marker = f"leakscan:untouched:{argument}"
    client = redis.Redis.from_url(leakscan.REDIS_URL)
    client.set(marker, "1", ex=60)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tests.leakscan.leakscan", argument],
        cwd=leakscan.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        assert client.get(marker) == b"1"
    finally:
        client.delete(marker)
    assert time.monotonic() - started < 30
    if argument == "--help":
        assert result.returncode == 0, result.stderr
        assert "LEAKSCAN_DATABASE" in result.stdout
    else:
        assert result.returncode == 2
        assert "unrecognized arguments" in result.stderr
