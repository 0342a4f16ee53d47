"""`make test` runs the suite in two processes with `--dist loadgroup`, and some tests must
not run beside each other (the leak scan empties its Redis database; the chaos runs restart
services; the OpenAPI schema tests share a generated document): they share an
`xdist_group`. The grouping fails silently when pytest and pytest-xdist disagree about node
ids (pytest 9.2 with pytest-xdist 3.8): this checks that a group still runs in one process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests import processes

GROUPED = """
import os

import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("index", range(8))
def test_grouped(index):
    with open(os.environ["WORKERS_SEEN"], "a") as seen:
        seen.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""

UNGROUPED = """
import time

import pytest


@pytest.mark.parametrize("index", range(8))
def test_ungrouped(index):
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_an_xdist_group_runs_in_one_process(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_ungrouped.py").write_text(UNGROUPED)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    seen = tmp_path / "workers"
    environment = {
        name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"
    }
    result = processes.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:django",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-q",
            "-c",
            str(tmp_path / "pytest.ini"),
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env={**environment, "WORKERS_SEEN": str(seen)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    workers = seen.read_text().split()
    assert len(workers) == 8
    assert len(set(workers)) == 1, f"the group ran in {sorted(set(workers))}"
