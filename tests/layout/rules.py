"""The rules between packages that import-linter cannot say, as functions over a source tree.

Each returns the violations it found as readable lines; the tests run them over this tree
and over a copy with a planted violation. import-linter's contracts (pyproject.toml) check
the floors: which app and which package may import which.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

APPS = ("backend", "journal", "integration", "worker")
MAX_MODULE_LINES = 600
# Querysets of these models are filtered by therapist only in the one access module.
THERAPIST_SCOPED_MODELS = frozenset({"Share", "CareLink", "SafetyAlert"})
ACCESS_MODULE = "integration/care/access.py"
QUERY_METHODS = frozenset({"filter", "exclude", "get", "get_or_create", "update_or_create"})


def python_files(root: Path) -> Iterator[Path]:
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """The package a module belongs to: `journal.entries.views` -> `journal.entries`."""
    return module.rsplit(".", 1)[0]


def _imports(tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []


def _is_ours(module: str) -> bool:
    return module.split(".")[0] in APPS


def foreign_views_imports(root: Path) -> list[str]:
    """No module imports another package's views (a URL module wires its own package's and
    its sub-packages' views)."""
    found = []
    for path in python_files(root):
        here = module_name(root, path)
        for line, module, names in _imports(ast.parse(path.read_text())):
            targets = [module] + [f"{module}.{name}" for name in names]
            for target in targets:
                if not _is_ours(target) or not target.endswith(".views"):
                    continue
                if path.name == "urls.py" and package_of(target).startswith(package_of(here)):
                    continue
                if package_of(target) != package_of(here):
                    found.append(f"{path.relative_to(root)}:{line} imports {target}")
    return found


def private_name_imports(root: Path) -> list[str]:
    """No module imports a `_private` name of another module of ours."""
    found: list[str] = []
    for path in python_files(root):
        for line, module, names in _imports(ast.parse(path.read_text())):
            if not _is_ours(module):
                continue
            found.extend(
                f"{path.relative_to(root)}:{line} imports {module}.{name}"
                for name in names
                if name.startswith("_") and name != "__version__"
            )
            if any(part.startswith("_") and part != "__init__" for part in module.split(".")):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def _receiver_names(node: ast.expr) -> set[str]:
    names = set()
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Name):
            names.add(node.id)
            return names
        else:
            return names


def _names_therapist(keyword: ast.keyword) -> bool:
    name = keyword.arg or ""
    return name.startswith("therapist") or "__therapist" in name


def therapist_filters_outside_access(root: Path) -> list[str]:
    """Only the care access module filters shares, care links or safety alerts by
    therapist: every therapist read goes through its one check."""
    found = []
    for path in python_files(root):
        relative = path.relative_to(root).as_posix()
        if relative == ACCESS_MODULE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not any(map(_names_therapist, node.keywords)):
                continue
            func = node.func
            is_q = isinstance(func, ast.Name) and func.id == "Q"
            is_scoped_query = (
                isinstance(func, ast.Attribute)
                and func.attr in QUERY_METHODS
                and bool(_receiver_names(func.value) & THERAPIST_SCOPED_MODELS)
            )
            if is_q or is_scoped_query:
                found.append(f"{relative}:{node.lineno} filters by therapist")
    return found


def oversized_modules(root: Path) -> list[str]:
    found = []
    for path in python_files(root):
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{path.relative_to(root)}: {lines} lines (at most {MAX_MODULE_LINES})")
    return found
