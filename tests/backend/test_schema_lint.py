"""The OpenAPI document passes an OpenAPI linter (Redocly's recommended rules, with the
two decisions written in tests/openapi/redocly.yaml), with no error and no warning."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tests" / "openapi"
REDOCLY = TOOLS / "node_modules" / ".bin" / "redocly"

NULLABLE_WITHOUT_TYPE = """\
openapi: 3.0.3
info: {title: probe, version: "1", license: {name: Proprietary}}
servers: [{url: /}]
paths:
  /things/:
    get:
      operationId: things_list
      summary: Things
      responses:
        "200":
          description: OK
          content:
            application/json:
              schema:
                type: object
                properties:
                  kind:
                    allOf: [{$ref: "#/components/schemas/Kind"}]
                    nullable: true
components:
  schemas:
    Kind: {type: string, enum: [a, b]}
"""


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    assert REDOCLY.exists(), "the linter is missing: `make test` installs it with npm"
    environment = {
        **os.environ,
        "REDOCLY_TELEMETRY": "off",
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
    }
    return subprocess.run(
        [str(REDOCLY), "lint", "--config", str(TOOLS / "redocly.yaml"), str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
        check=False,
    )


def test_the_schema_passes_the_linter_without_an_error_or_warning(tmp_path, django_db_blocker):
    path = tmp_path / "openapi.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(path))

    result = lint(path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stdout.lower(), result.stdout


def test_the_linter_refuses_a_nullable_reference_without_a_type(tmp_path):
    path = tmp_path / "probe.yaml"
    path.write_text(NULLABLE_WITHOUT_TYPE)

    result = lint(path)

    assert result.returncode != 0
    assert "nullable-type-sibling" in result.stdout + result.stderr
