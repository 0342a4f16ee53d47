"""docker-compose.yml runs the Makefile's commands with variables the project knows.

No Docker engine runs here, so the file is parsed and checked against the project.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def makefile_commands() -> dict[str, str]:
    text = (ROOT / "Makefile").read_text()
    return dict(re.findall(r"^(WEB_CMD|WORKER_CMD|BEAT_CMD) := (.+)$", text, re.MULTILINE))


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def known_variables() -> set[str]:
    names = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    return names


def test_compose_has_the_five_services() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_each_app_service_runs_the_makefile_command() -> None:
    services = compose()["services"]
    commands = makefile_commands()
    assert services["web"]["command"] == commands["WEB_CMD"]
    assert services["worker"]["command"] == commands["WORKER_CMD"]
    assert services["beat"]["command"] == commands["BEAT_CMD"]


def test_commands_name_modules_that_exist() -> None:
    commands = makefile_commands()
    assert commands["WEB_CMD"].startswith("gunicorn backend.wsgi:application")
    assert (ROOT / "backend" / "wsgi.py").exists()
    config = re.search(r"-c (\S+)", commands["WEB_CMD"])
    assert config is not None
    assert (ROOT / config.group(1)).exists()
    for name in ("WORKER_CMD", "BEAT_CMD"):
        assert commands[name].startswith("celery -A worker ")
    assert (ROOT / "worker" / "celery.py").exists()


def test_every_variable_in_compose_is_documented_and_read_by_the_project() -> None:
    documented = known_variables()
    settings_text = "".join(
        path.read_text() for path in sorted((ROOT / "backend").glob("settings*.py"))
    )
    gunicorn_text = (ROOT / "backend" / "gunicorn_conf.py").read_text()
    for name, service in compose()["services"].items():
        for variable in service.get("environment", {}):
            if name in {"postgres"}:
                continue
            assert variable in documented, f"{name}: {variable} missing from .env.example"
            assert f'"{variable}"' in settings_text + gunicorn_text, (
                f"{name}: {variable} is read nowhere"
            )


def test_every_documented_variable_is_read_by_the_project() -> None:
    settings_text = "".join(
        path.read_text() for path in sorted((ROOT / "backend").glob("settings*.py"))
    )
    gunicorn_text = (ROOT / "backend" / "gunicorn_conf.py").read_text()
    for variable in known_variables():
        assert f'"{variable}"' in settings_text + gunicorn_text, f"{variable} is read nowhere"
