"""`make load`'s users, checked cheaply: every action of the patient, the therapist and the
compared entries operations runs once against the application in process (on data made
by the load seed) and gets the answer it expects; every path it sends is an operation of
the OpenAPI schema; and locust itself loads the locustfile (in a process of its own:
importing locust patches the standard library for gevent, which this one must not have).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.load.run_load import Figures, makefile_commands, report
from tests.load.scenario import (
    COMPARED,
    ROUTES,
    STOCK_ROUTES,
    EntriesClient,
    Patient,
    Reply,
    Request,
    Send,
    Therapist,
)
from tests.load.seed import seed
from tests.processes import run


class InProcess(Send):
    """A `Send` over Django's test client that fails the test on an unexpected status and
    remembers each (method, path template) sent."""

    def __init__(self, token: str) -> None:
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        self.sent: set[tuple[str, str]] = set()

    def exchange(self, request: Request) -> Reply | None:
        extra: dict[str, Any] = {
            "HTTP_" + key.upper().replace("-", "_"): value for key, value in request.headers.items()
        }
        response = self.client.generic(
            request.method,
            request.path,
            data=json.dumps(request.json) if request.json is not None else "",
            content_type="application/json",
            **extra,
        )
        assert response.status_code in request.expect, (
            request.name,
            response.status_code,
            response.content,
        )
        named_method, template = request.name.split(" ", 1)
        assert named_method == request.method
        self.sent.add((request.method, template.split("?", 1)[0]))
        return Reply(response.status_code, response.json() if response.content else None, {})


@pytest.mark.django_db
@pytest.mark.urls("tests.load.urls")
def test_every_action_answers_as_expected_and_uses_a_schema_operation() -> None:
    data = seed(patients=2, therapists=1, bench_patients=1, entries=3, bench_entries=3)
    rng = random.Random(7)
    sent: set[tuple[str, str]] = set()

    person = data["patients"][0]
    patient_send = InProcess(person["token"])
    patient = Patient(person["entries"], rng)
    # Twice over: the second sync is incremental, the second answer takes the next prompt.
    for action in [*Patient.WEIGHTS, *Patient.WEIGHTS]:
        patient.act(action, patient_send)
    assert patient.state.cursor is not None
    assert len(patient.state.entries) > 3

    therapist_send = InProcess(data["therapists"][0]["token"])
    therapist = Therapist(data["therapists"][0]["shares"], rng)
    for action in Therapist.WEIGHTS:
        therapist.act(action, therapist_send)

    bench = data["bench"][0]
    for stock in (False, True):
        entries_send = InProcess(bench["token"])
        entries = EntriesClient(bench["entries"], rng, stock=stock)
        for operation in COMPARED:
            entries.act(operation, entries_send)
        sent |= entries_send.sent
    sent |= patient_send.sent | therapist_send.sent

    schema = SchemaGenerator(urlconf="backend.urls").get_schema(request=None, public=True)
    stock_paths = set(STOCK_ROUTES.values())
    for method, template in sorted(sent):
        if template in stock_paths:
            continue
        assert method.lower() in schema["paths"].get(template, {}), (method, template)
    # Every route of the mix was used.
    assert {template for _, template in sent} == set(ROUTES.values()) | stock_paths


def test_figures_add_phases_and_read_percentiles() -> None:
    figures = Figures()
    figures.add({"requests": 3, "failures": 0, "histogram": {"10": 2, "30": 1}}, 1.5)
    figures.add({"requests": 1, "failures": 1, "histogram": {"20": 1}}, 0.5)
    assert (figures.requests, figures.failures, figures.rps) == (4, 1, 2.0)
    assert figures.percentile(0.5) == 10
    assert figures.percentile(0.75) == 20
    assert figures.percentile(0.99) == 30


def _phase(kind: str, name: str, requests: int, failures: int = 0, **extra: Any) -> dict:
    endpoint = {
        "name": name,
        "method": name.split()[0],
        "requests": requests,
        "failures": failures,
        "histogram": {"10": requests - failures, "50": failures},
    }
    return {
        "kind": kind,
        "name": name,
        "seconds": 10.0,
        "endpoints": [endpoint],
        "total": {**endpoint, "name": "Aggregated"},
        "errors": [{"name": name, "method": "GET", "error": "500", "count": failures}]
        if failures
        else [],
        "offered_rps": 20.0,
        **extra,
    }


def _results(failures: int) -> list[dict]:
    results = [_phase("mix", "GET /api/v1/sync/", 200, failures)]
    for operation in COMPARED:
        results.append(_phase("compare", "GET ours", 1500, variant="ours", operation=operation))
        results.append(_phase("compare", "GET stock", 1000, variant="stock", operation=operation))
    return results


def test_the_report_prints_the_ratios_and_fails_on_errors_only(capsys) -> None:
    args = argparse.Namespace(patients=40, therapists=5, users=8, require_goal=False)
    assert report(_results(0), args, {}) == 0
    printed = capsys.readouterr().out
    assert "offered 20.0 req/s, achieved 20.0 req/s" in printed
    assert "1.50x  met" in printed
    assert "PASSED" in printed

    assert report(_results(3), args, {}) == 1
    assert "3 x GET /api/v1/sync/: 500" in capsys.readouterr().out
    assert report(_results(0), args, {"worker": ["Traceback (most recent call last)"]}) == 1


def test_the_service_commands_come_from_the_makefile() -> None:
    commands = makefile_commands()
    assert commands["WEB_CMD"].startswith("gunicorn backend.wsgi:application -c ")


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="make load installs it")
def test_locust_loads_the_locustfile_and_the_phase_runner_imports() -> None:
    listed = run(
        [str(Path(sys.executable).with_name("locust")), "-f", "tests/load/locustfile.py", "--list"]
    )
    assert listed.returncode == 0, listed.stderr
    for user in ("PatientUser", "TherapistUser", "OurEntriesUser", "StockEntriesUser"):
        assert user in listed.stdout
    imported = run([sys.executable, "-c", "import tests.load.phases"])
    assert imported.returncode == 0, imported.stderr
