"""`make chaos` in short, as part of `make test`: one fault of each kind.

The script runs once for the module (python -m tests.chaos.chaos --repeats 1): it starts
its own workers, beat, gunicorn, Redis servers and PostgreSQL cluster, and uses a database
of its own on the shared server, so it needs no pytest database. About a minute. Each
scenario is then a test of its own: a scenario that cannot run here (no PostgreSQL server
binaries to make a private cluster with) is skipped with the script's reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.chaos import SCENARIOS
from tests.chaos.delivery import BATCH_SIZE, EXTRA_REPEATS_UNTIL_STRANDED
from tests.chaos.infra import ROOT

# Every test reads the one chaos run (a module fixture): one process runs them all.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chaos")]

TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    artifacts: Path = tmp_path_factory.mktemp("chaos")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.chaos.chaos", "--repeats", "1", "--artifacts", artifacts],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        # SIGTERM lets the script stop what it started (SIGKILL would leave its own
        # process groups running).
        process.terminate()
        stdout, stderr = process.communicate(timeout=60)
        pytest.fail(f"the chaos run took over {TIMEOUT_SECONDS} s:\n{stdout[-6000:]}")
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    output = f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    report_file = artifacts / "report.json"
    assert report_file.exists(), output
    report: dict[str, Any] = json.loads(report_file.read_text())
    report["returncode"] = result.returncode
    report["output"] = output
    print(result.stdout[-4000:])
    return report


def test_the_script_fails_exactly_when_a_scenario_fails(run: dict[str, Any]) -> None:
    assert [s["name"] for s in run["scenarios"]] == list(SCENARIOS), run["output"]
    assert run["ok"] == all(s["ok"] for s in run["scenarios"])
    assert run["returncode"] == (0 if run["ok"] else 1), run["output"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_after_the_fault_nothing_is_lost_or_duplicated(run: dict[str, Any], name: str) -> None:
    scenario = next(s for s in run["scenarios"] if s["name"] == name)
    if scenario["skipped"]:
        pytest.skip(f"{name} not run: {scenario['skipped']}")
    output = run["output"]
    assert scenario["ok"], f"{scenario['failures']}\n{output}"
    # The one repeat asked for; after a fault that stranded nothing, the extra ones run
    # until one does (delivery.EXTRA_REPEATS_UNTIL_STRANDED).
    assert 1 <= len(scenario["repeats"]) <= 1 + EXTRA_REPEATS_UNTIL_STRANDED, output
    totals = scenario["totals"]
    assert totals["items"] > 0, output
    assert (totals["lost"], totals["duplicated"], totals["bad"]) == (0, 0, 0), output
    # The fault stranded something (prompts claimed again after their lease, writes
    # refused and retried), so the recovery was exercised, not just survived.
    assert totals["recovered"] > 0, output
    for repeat in scenario["repeats"]:
        if name == "worker-kill":
            assert repeat["outage_seen"] is None  # a dead worker is nothing /readyz checks
        else:
            assert (repeat["outage_seen"], repeat["recovery_seen"]) == (True, True), output
    if name == "worker-kill":
        # At most the batch in hand of each killed pool child (the worker runs two): a
        # batch is pushed together and recorded in one write.
        assert totals["window"] <= 2 * BATCH_SIZE * len(scenario["repeats"]), output
