"""The rules between packages hold, and each check fails when a rule is broken.

import-linter checks the floors (pyproject.toml `[tool.importlinter]`); `rules` checks by
hand what it cannot say. Every check also runs over a copy of the tree with one planted
violation, to show that it would catch one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import processes
from tests.layout import rules

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def copy_of_tree(tmp_path: Path) -> Path:
    for app in rules.APPS:
        shutil.copytree(ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(root: Path, relative: str, line: str) -> None:
    path = root / relative
    path.write_text(path.read_text() + "\n" + line + "\n")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(root)}
    return processes.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        env=environment,
        cwd=root,
        timeout=120,
    )


def test_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("relative", "line", "contract"),
    [
        # care and therapist: a lower floor reaching up.
        (
            "integration/care/links.py",
            "from integration.therapist import selectors",
            "Integration floors",
        ),
        # prompts and delivery are siblings.
        (
            "integration/prompts/inbox.py",
            "from integration.delivery import devices",
            "Integration floors",
        ),
        # sessions below entries.
        ("journal/sessions/services.py", "from journal.entries import selectors", "Journal floors"),
        # a root module of journal reaching into a package.
        ("journal/records.py", "from journal.measures import services", "Journal floors"),
        # journal reaching up into the care layer.
        ("journal/safety.py", "import integration.models", "Apps"),
        # the care layer reading ciphertext itself.
        ("integration/therapist/selectors.py", "from journal import crypto", "sealed text"),
        # the timeline ahead reaching into delivery; planning reaching up into it.
        (
            "integration/ahead/selectors.py",
            "from integration.delivery import devices",
            "The timeline ahead reads",
        ),
        (
            "integration/prompts/planning.py",
            "from integration.ahead import selectors",
            "do not reach up into the timeline ahead",
        ),
    ],
)
def test_a_broken_rule_fails_the_contracts(tmp_path, relative, line, contract):
    root = copy_of_tree(tmp_path)
    plant(root, relative, line)

    result = lint_imports(root)

    assert result.returncode != 0
    assert f"{contract}" in result.stdout
    assert "BROKEN" in result.stdout


HAND_RULES: list[tuple[Callable[[Path], list[str]], str, str]] = [
    (
        rules.foreign_views_imports,
        "integration/therapist/selectors.py",
        "from integration.care.views import ShareCollectionView",
    ),
    (
        rules.private_name_imports,
        "integration/care/shares.py",
        "from journal.entries.services import _validate_entry",
    ),
    (
        rules.therapist_filters_outside_access,
        "integration/therapist/selectors.py",
        "def leak(therapist):\n    return Share.objects.filter(therapist=therapist)",
    ),
    (rules.oversized_modules, "journal/api.py", "\n" * rules.MAX_MODULE_LINES),
]


@pytest.mark.parametrize(("rule", "relative", "line"), HAND_RULES)
def test_the_tree_keeps_the_hand_written_rules(rule, relative, line):
    assert rule(ROOT) == []


@pytest.mark.parametrize(("rule", "relative", "line"), HAND_RULES)
def test_a_broken_hand_written_rule_is_found(tmp_path, rule, relative, line):
    root = copy_of_tree(tmp_path)
    plant(root, relative, line)

    assert [found for found in rule(root) if found.startswith(relative)]
