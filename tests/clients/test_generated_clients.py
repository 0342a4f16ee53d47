"""Clients generated from the live OpenAPI document, in Python (openapi-python-client) and
TypeScript (openapi-typescript types, openapi-fetch, compiled with `tsc --strict`), drive a
patient's offline-first flow against a running server without a hand edit: register,
confirm the e-mailed code, sign in, write an entry offline with the app's own id and time
of writing, sync, meet a 412 whose `current` decodes as the typed Entry, meet a refused
PHQ-9 whose `safety` decodes as the typed Safety, erase the account, and fail to sign in
after.

Nothing generated is committed: each run generates from the document as the code makes it
now. The flow calls only these operations, so that it tests what a generator makes of the
document rather than the rest of the API."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import typing
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from django.core.management import call_command

from journal.safety import SAFETY_MESSAGE

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NODE_TOOLS = ROOT / "tests" / "openapi" / "node_modules"
PASSWORD = "correct horse battery staple"
PACKAGE = "afterglow_client"
# openapi-python-client's settings: our package name, and no formatter run afterwards (the
# generated code is imported, never committed).
PYTHON_CONFIG = f"""\
project_name_override: afterglow-client
package_name_override: {PACKAGE}
post_hooks: []
"""


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory, django_db_blocker) -> Path:
    path = tmp_path_factory.mktemp("schema") / "openapi.json"
    with django_db_blocker.unblock():
        call_command("spectacular", "--format", "openapi-json", "--file", str(path))
    return path


def run(command: list[str], **options) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=240, check=False, **options
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _generated_python_client(schema: Path, directory: Path) -> Iterator[ModuleType]:
    config = directory / "config.yaml"
    config.write_text(PYTHON_CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    output = str(directory / PACKAGE)
    result = run(
        [
            str(generator),
            *("generate", "--path", str(schema), "--config", str(config)),
            *("--meta", "none", "--output-path", output),
        ]
    )
    # A schema the generator cannot read fully is still generated, with warnings.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(directory))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(directory))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture
def python_client(schema: Path, tmp_path: Path) -> Iterator[ModuleType]:
    yield from _generated_python_client(schema, tmp_path)


def part(name: str) -> typing.Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def the_code(mail, address: str) -> str:
    (message,) = mail.messages_to(address)
    return message.code


def test_the_generated_python_client_drives_the_patient_flow(live_server, mail, python_client):
    client_module = part("client")
    models = part("models")
    register = part("api.auth.auth_register")
    confirm = part("api.auth.auth_register_confirm")
    login = part("api.auth.auth_login")
    entries_create = part("api.entries.entries_create")
    entries_update = part("api.entries.entries_update")
    entries_delete = part("api.entries.entries_delete")
    sync = part("api.sync.sync")
    measures_create = part("api.measures.measures_create")
    erase = part("api.me.me_erase")
    me = part("api.me.me_retrieve")

    # Registering and signing in need no token: the generated functions take a plain client.
    for operation in (register, confirm, login):
        accepted = typing.get_args(typing.get_type_hints(operation.sync_detailed)["client"])
        assert client_module.Client in accepted, operation.__name__
    anonymous = client_module.Client(base_url=live_server.url)
    # The first thing written after signing up, before the phone had a network again.
    written_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)

    registered = register.sync_detailed(
        client=anonymous,
        body=models.RegisterRequest(
            email="tom@example.org", password=PASSWORD, display_name="Tom", time_zone="UTC"
        ),
    )
    assert registered.status_code == 202, registered.content
    assert isinstance(registered.parsed, models.CodeSent)

    confirmed = confirm.sync_detailed(
        client=anonymous,
        body=models.RegisterConfirmRequest(
            email="tom@example.org", code=the_code(mail, "tom@example.org"), password=PASSWORD
        ),
    )
    assert confirmed.status_code == 201, confirmed.content
    assert isinstance(confirmed.parsed, models.SignIn)

    signed_in = login.sync_detailed(
        client=anonymous, body=models.LoginRequest(email="tom@example.org", password=PASSWORD)
    )
    assert signed_in.status_code == 200, signed_in.content
    assert isinstance(signed_in.parsed, models.SignIn)
    patient = client_module.AuthenticatedClient(
        base_url=live_server.url, token=signed_in.parsed.token, prefix="Token"
    )

    # Sent with the time it was written, twice (the app missed the first answer).
    entry_id = uuid.uuid4()
    # Written after signing up and before it is sent: when signing up took under the
    # second written_at is ahead by, the phone sends once that moment has passed.
    time.sleep(max(0.0, (written_at - datetime.now(UTC)).total_seconds() + 0.01))
    assert written_at < datetime.now(UTC)
    entry = models.EntryCreateRequest(
        id=entry_id,
        kind=models.EntryKind.NOTE,
        title="On the train",
        body="Calmer than last week.",
        written_at=written_at,
    )
    created = entries_create.sync_detailed(client=patient, body=entry)
    repeated = entries_create.sync_detailed(client=patient, body=entry)
    assert (created.status_code, repeated.status_code) == (201, 200), created.content
    assert isinstance(created.parsed, models.EntryRecord)
    assert (created.parsed.id, created.parsed.written_at) == (entry_id, written_at)

    # A second one, written and deleted offline: sync reports its tombstone.
    draft_id = uuid.uuid4()
    draft = models.EntryCreateRequest(id=draft_id, kind=models.EntryKind.NOTE, body="Draft.")
    assert entries_create.sync_detailed(client=patient, body=draft).status_code == 201
    deleted = entries_delete.sync_detailed(draft_id, client=patient, if_match='"1"')
    assert deleted.status_code == 204, deleted.content

    page = sync.sync_detailed(client=patient, limit=500).parsed
    assert isinstance(page, models.SyncPage)
    changes = {change.id: change for change in page.changes}
    assert isinstance(changes[entry_id].data, models.Entry)
    assert (changes[entry_id].data.id, changes[entry_id].data.written_at) == (entry_id, written_at)
    assert (changes[draft_id].deleted, changes[draft_id].data) == (True, None)

    # Another device changed it (version 1 -> 2); an edit made against version 1 conflicts.
    def edit_of_version_1(body: str) -> typing.Any:
        return entries_update.sync_detailed(
            entry_id,
            client=patient,
            body=models.PatchedEntryUpdateRequest(body=body),
            if_match='"1"',
        )

    changed = edit_of_version_1("Calmer than last week. Slept well.")
    assert changed.status_code == 200, changed.content
    stale = edit_of_version_1("An edit made offline.")
    assert stale.status_code == 412, stale.content
    assert stale.parsed.status == 412
    assert stale.parsed.code == "version_conflict"
    current = stale.parsed.current
    assert type(current) is models.Entry
    assert (current.id, current.version, current.body) == (
        entry_id,
        2,
        "Calmer than last week. Slept well.",
    )
    assert current.written_at == written_at

    # A PHQ-9 refused (item 4 out of range) whose item 9 is above 0: the typed problem
    # still holds the crisis resources, decoded as the success answer's Safety.
    refused_measure = measures_create.sync_detailed(
        client=patient,
        body=models.MeasureCreateRequest(
            instrument=models.Instrument.PHQ9, answers=[1, 1, 1, 9, 1, 1, 1, 1, 2]
        ),
    )
    assert refused_measure.status_code == 400, refused_measure.content
    assert type(refused_measure.parsed) is models.ProblemWithSafety
    assert refused_measure.parsed.code == "validation"
    safety = refused_measure.parsed.safety
    assert type(safety) is models.Safety
    assert (safety.reason, safety.message) == (models.SafetyReason.PHQ9_ITEM9, SAFETY_MESSAGE)
    # No country set at sign-up: no checked list, so the plain word to call for help.
    assert safety.fallback

    erased = erase.sync_detailed(client=patient, body=models.AccountEraseRequest(password=PASSWORD))
    assert erased.status_code == 204, erased.content
    assert me.sync_detailed(client=patient).status_code == 401
    refused = login.sync_detailed(
        client=anonymous, body=models.LoginRequest(email="tom@example.org", password=PASSWORD)
    )
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.Problem)
    assert refused.parsed.code == "invalid_credentials"


@pytest.fixture
def typescript_flow(schema: Path, tmp_path: Path) -> Path:
    """flow.ts compiled with the types generated from the schema: the compiled program."""
    tools = NODE_TOOLS / ".bin"
    assert tools.exists(), "the TypeScript tools are missing: `make test` installs them"
    for name in ("flow.ts", "tsconfig.json"):
        (tmp_path / name).write_text((HERE / name).read_text())
    (tmp_path / "package.json").write_text('{"private": true, "type": "module"}\n')
    (tmp_path / "node_modules").symlink_to(NODE_TOOLS)
    # A field with a default is optional to send: openapi-typescript would make it required.
    types = str(tmp_path / "schema.ts")
    run(
        [
            str(tools / "openapi-typescript"),
            str(schema),
            "--default-non-nullable",
            "false",
            "-o",
            types,
        ]
    )
    run([str(tools / "tsc"), "--project", str(tmp_path / "tsconfig.json")])
    return tmp_path / "build" / "flow.js"


def test_the_generated_typescript_client_drives_the_patient_flow(
    live_server, mail, typescript_flow
):
    process = subprocess.Popen(
        ["node", str(typescript_flow)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AFTERGLOW_URL": live_server.url},
    )
    try:
        assert process.stdout is not None
        assert process.stdin is not None
        asked = process.stdout.readline()
        assert json.loads(asked or "{}") == {"step": "code"}, process.stderr
        process.stdin.write(the_code(mail, "tessa@example.org") + "\n")
        process.stdin.flush()
        output, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output + errors

    result = json.loads(output.splitlines()[-1])
    assert result["step"] == "done"
    assert result["created"] == result["written_at"]
    assert result["synced"] == {
        "id": result["id"],
        "written_at": result["written_at"],
        "type": "entry",
    }
    assert result["tombstone"] == {"deleted": True, "data": None}
    assert result["conflict"] == {
        "status": 412,
        "code": "version_conflict",
        "current": {"id": result["id"], "version": 2, "body": "Calmer than last week. Slept well."},
    }
    assert result["refused_measure"] == {
        "status": 400,
        "code": "validation",
        "reason": "phq9_item9",
        "message": SAFETY_MESSAGE,
    }
    assert (result["erased"], result["sign_in_after"]) == (204, 401)
    assert result["sign_in_after_code"] == "invalid_credentials"
