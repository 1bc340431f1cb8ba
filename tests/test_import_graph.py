"""The shape of the package, read from its source (ast), as `../shared/tools/import_cycles.py` reads it: every
import counts, function-local ones too (only those under `if TYPE_CHECKING:` are left out, since they never run).

- no import cycle among `vaegan/` modules;
- a function-local import exists only to keep start-up light, and says so in a comment;
- no module imports another module's private (`_name`) names.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "vaegan"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, tuple[Path, ast.Module]]:
    return {module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))}


def type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(sub) for sub in ast.walk(node))
    return skipped


def imported_modules(name: str, path: Path, tree: ast.Module, known: set[str]) -> set[str]:
    """The package modules `name` imports anywhere in its source (a from-import of a name counts as its module)."""
    skipped = type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_find_cycles_finds_a_cycle_and_only_that() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle() -> None:
    modules = sources()
    known = set(modules)
    graph = {name: imported_modules(name, path, tree, known) for name, (path, tree) in modules.items()}
    assert graph["vaegan.divergences.toy2d"] >= {"vaegan.divergences.targets"}  # the reader sees real edges
    assert find_cycles(graph) == []


def test_every_function_local_import_says_why() -> None:
    """Imports belong at the top; one inside a function is there to keep start-up light (torch, huggingface_hub,
    PIL, scipy only when used) and carries a comment on its line or the line above saying so. The CLI package is
    the one place where every command imports the library in its body (torch-free `--help`): its docstring says so
    once for all of them."""
    cli_rule = ast.get_docstring(ast.parse((PACKAGE / "cli" / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert "imports the library inside its own body" in cli_rule
    silent = []
    for path, tree in sources().values():
        if path.parent == PACKAGE / "cli":
            continue
        lines = path.read_text(encoding="utf-8").split("\n")
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    line, above = lines[sub.lineno - 1], lines[sub.lineno - 2].strip()
                    if "#" not in line and not above.startswith("#"):
                        silent.append(f"{path.relative_to(REPO_ROOT)}:{sub.lineno}: {line.strip()}")
    assert not silent, "function-local imports without a comment saying why:\n" + "\n".join(silent)


def test_no_module_imports_another_module_s_private_names() -> None:
    private = []
    for name, (path, tree) in sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vaegan") and node.module != name:
                hidden = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                private += [f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.module}.{n}" for n in hidden]
    assert not private, private
