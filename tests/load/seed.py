"""The people a load run signs in as, made through the services the API calls (every row
sealed, scored and scheduled as in production), each holding a real device token.

- Patients of the realistic mix: a journal (entries, a dosing session in the past and
  one to come, measures), a push device, and open prompts to answer: some already sent,
  some still scheduled and due, for the beat's dispatcher to pick up during the run.
- Therapists (TOTP-verified tokens), each linked to some of those patients, who share
  entries, a dosing session and their measures with them.
- Patients for the comparison with the stock twin: only entries, the same for both.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from integration.delivery import devices
from integration.models import PlanStep, Prompt, PromptStatus
from journal.measures import services
from tests.accounts.factories import TOTPDeviceFactory, issue_token
from tests.integration.care_data import make_entry, make_link, make_share
from tests.integration.factories import make_patient, make_session, make_therapist
from tests.load.scenario import entry_payload

PLAN = "kap-default"


def _journal(patient: Any, entries: int, rng: random.Random) -> list[Any]:
    made = []
    for _ in range(entries):
        payload = entry_payload(rng, with_id=False)
        made.append(
            make_entry(
                patient,
                title=payload["title"],
                body=payload["body"],
                tags=payload["tags"],
                mood=payload["mood"],
            )
        )
    return made


def _open_prompts(patient: Any, sessions: list[Any], now: dt.datetime) -> int:
    """A prompt for every step of the default plan and every session: half sent, half
    scheduled and due (the dispatcher's work), all open for two more days."""
    steps = list(PlanStep.objects.filter(plan__slug=PLAN).select_related("exercise"))
    made = 0
    for session in sessions:
        for index, step in enumerate(steps):
            due = now - dt.timedelta(minutes=5 + index)
            Prompt.objects.update_or_create(
                session=session,
                step=step,
                defaults={
                    "patient": patient,
                    "exercise": step.exercise,
                    "status": PromptStatus.SENT if index % 2 else PromptStatus.SCHEDULED,
                    "nominal_at": due,
                    "due_at": due,
                    "expires_at": now + dt.timedelta(days=2),
                },
            )
            made += 1
    return made


def _mix_patient(index: int, entries: int, rng: random.Random) -> dict[str, Any]:
    now = timezone.now()
    patient = make_patient(email=f"load-patient-{index}@example.org")
    written = _journal(patient, entries, rng)
    past = [
        make_session(patient, now - dt.timedelta(days=days), keep_prompts=False) for days in (1, 8)
    ]
    upcoming = make_session(patient, now + dt.timedelta(days=5))
    for instrument, items in (("phq9", 9), ("gad7", 7)):
        services.measure_create(patient=patient, instrument=instrument, answers=[1] * items)
    prompts = _open_prompts(patient, past, now)
    devices.device_register(
        patient=patient, platform="android", token=f"load-device-{index}-{rng.getrandbits(64)}"
    )
    return {
        "user": patient,
        "entries": written,
        "dosing": upcoming,
        "prompts": prompts,
        "record": {
            "id": str(patient.pk),
            "token": issue_token(patient, name="load phone"),
            "entries": {str(entry.pk): entry.version for entry in written},
        },
    }


def seed(
    *,
    patients: int,
    therapists: int,
    bench_patients: int,
    entries: int = 25,
    bench_entries: int = 30,
    random_seed: int = 1,
) -> dict[str, Any]:
    """Make everyone; returns what the load users need (ids, tokens), JSON-ready."""
    rng = random.Random(random_seed)
    mix = [_mix_patient(index, entries, rng) for index in range(patients)]
    therapist_records = []
    for index in range(therapists):
        therapist = make_therapist(email=f"load-therapist-{index}@example.org")
        TOTPDeviceFactory.create(user=therapist)
        shares: dict[str, list[str]] = {}
        for made in mix[index::therapists]:
            link = make_link(made["user"], therapist)
            share = make_share(
                link,
                entries=made["entries"][:5],
                dosing_session=made["dosing"],
                include_measures=True,
            )
            shares[made["record"]["id"]] = [str(share.pk)]
        therapist_records.append(
            {"token": issue_token(therapist, second_factor=True, name="load"), "shares": shares}
        )
    bench = []
    for index in range(bench_patients):
        patient = make_patient(email=f"load-bench-{index}@example.org")
        written = _journal(patient, bench_entries, rng)
        bench.append(
            {
                "token": issue_token(patient, name="load phone"),
                "entries": [str(entry.pk) for entry in written],
            }
        )
    return {
        "patients": [made["record"] for made in mix],
        "therapists": therapist_records,
        "bench": bench,
        "prompts": sum(made["prompts"] for made in mix),
    }
