"""The project as a package: pyproject.toml and requirements.txt agree, no file patches sys.path, and the layers
import only what they may (the core: no Streamlit, Typer or Plotly; the CLI: never the app)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FRONT_ENDS = ("vaegan/cli", "vaegan/figures.py")  # the only parts of vaegan/ that may import front-end libraries


def _requirement_lines(path: Path) -> set[str]:
    """`name[extras]spec` per requirement, comments and whitespace dropped, names normalised."""
    lines = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            lines.add(_normalise(line))
    return lines


def _normalise(requirement: str) -> str:
    name, rest = re.match(r"([A-Za-z0-9_.\-]+)(.*)", requirement.replace(" ", "")).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest


def test_requirements_match_pyproject() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime = {_normalise(r) for r in project["dependencies"] + extras["app"] + extras["hub"]}
    assert _requirement_lines(REPO_ROOT / "requirements.txt") == runtime
    dev_only = {_normalise(r) for r in extras["dev"] if not r.startswith("vaegan[")}
    assert _requirement_lines(REPO_ROOT / "requirements-dev.txt") == dev_only
    assert project["scripts"]["vaegan"] == "vaegan.cli:run"


def _python_files() -> list[Path]:
    skipped = {".venv", ".git", "build", "node_modules"}
    return [p for p in REPO_ROOT.rglob("*.py") if not skipped & set(p.relative_to(REPO_ROOT).parts)]


def test_no_file_patches_sys_path() -> None:
    patched = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
                patched.append(str(path.relative_to(REPO_ROOT)))
    assert patched == []


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[0] for name in names} | names


def test_core_never_imports_front_end_libraries() -> None:
    offenders = {}
    for path in sorted((REPO_ROOT / "vaegan").rglob("*.py")):
        relative = path.relative_to(REPO_ROOT).as_posix()
        if relative.startswith(FRONT_ENDS):
            continue
        found = _imported_modules(path) & {"streamlit", "typer", "plotly", "click", "demo"}
        if found:
            offenders[relative] = sorted(found)
    assert offenders == {}


def test_cli_never_imports_the_app() -> None:
    for path in sorted((REPO_ROOT / "vaegan" / "cli").glob("*.py")):
        assert "demo" not in _imported_modules(path), path
        assert "streamlit" not in _imported_modules(path), path


def test_cli_modules_are_small() -> None:
    """A module over ~400 lines says why in its docstring; the CLI's modules need no such reason."""
    for path in sorted((REPO_ROOT / "vaegan" / "cli").glob("*.py")):
        assert len(path.read_text().splitlines()) <= 400, path


def test_a_long_module_says_why_in_its_docstring() -> None:
    """One idea per file: a module of the package or the app over 400 lines gives its reason in its docstring."""
    silent = []
    for path in sorted([*(REPO_ROOT / "vaegan").rglob("*.py"), *(REPO_ROOT / "demo").rglob("*.py")]):
        text = path.read_text(encoding="utf-8")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > 400 and "over 400 lines" not in docstring.lower():
            silent.append(str(path.relative_to(REPO_ROOT)))
    assert not silent, silent
