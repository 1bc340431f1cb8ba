"""The README and the docs site stay true: every "docs/…" reference in the code and the README names a page (and
anchor) that exists, "README: X" references name a README section, the README stays short, its module map names
every module and nothing else, its Python API snippet runs, and the generated CLI reference lists exactly the
commands `vaegan --help` shows. (`mkdocs build --strict`, which checks the links inside the site, runs in
`make test`.)"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path
from types import ModuleType

import markdown
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
README_MAX_LINES = 220
# What may point into docs/: the README and the code's docstrings and comments, the CI script and the Makefile.
SCANNED = ("README.md", "cli.py", "vaegan/**/*.py", "demo/**/*.py", "bench/**/*.py", "tests/**/*.py", ".ci/run",
           "Makefile")  # fmt: skip
DOCS_REFERENCE = re.compile(r"\bdocs/(?P<page>[\w./-]+?\.md)(?:#(?P<anchor>[\w-]+))?")
README_REFERENCE = re.compile(r"\bREADME: (?P<section>[A-Za-z][\w' -]*[\w'])")


def scanned_files() -> list[Path]:
    found = {path for pattern in SCANNED for path in REPO_ROOT.glob(pattern) if path.is_file()}
    return sorted(path for path in found if ".venv" not in path.parts)


@cache
def hooks() -> ModuleType:
    """docs/hooks/cli_reference.py, the mkdocs hook that generates the CLI reference (not an importable package)."""
    spec = importlib.util.spec_from_file_location("cli_reference_hook", DOCS / "hooks" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def anchors(page: str) -> frozenset[str]:
    """The ids of a docs page as the site renders them: headings (toc slugs or `{#id}`), generated text included."""
    text = hooks().on_page_markdown((DOCS / page).read_text(), page=None)
    renderer = markdown.Markdown(
        extensions=["attr_list", "toc", "tables", "md_in_html", "pymdownx.superfences", "pymdownx.snippets"],
        extension_configs={"pymdownx.snippets": {"base_path": [str(REPO_ROOT)], "check_paths": True}},
    )
    return frozenset(re.findall(r'\bid="([^"]+)"', renderer.convert(text)))


def docs_references() -> list[tuple[str, str, str | None]]:
    """(where, page, anchor) for every "docs/<page>.md[#anchor]" in the scanned files."""
    references = []
    for path in scanned_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for match in DOCS_REFERENCE.finditer(line):
                where = f"{path.relative_to(REPO_ROOT)}:{number}"
                references.append((where, match["page"], match["anchor"]))
    return references


def test_every_docs_reference_names_a_page_and_an_anchor_that_exist() -> None:
    references = docs_references()
    assert len(references) >= 20, references  # the scan found the references it is meant to check
    broken = []
    for where, page, anchor in references:
        if not (DOCS / page).is_file():
            broken.append(f"{where}: docs/{page} does not exist")
        elif anchor and anchor not in anchors(page):
            broken.append(f"{where}: docs/{page} has no anchor #{anchor}")
    assert broken == []


def test_the_anchor_check_sees_generated_and_explicit_ids() -> None:
    assert {"vae", "divergences", "speed", "app"} <= anchors("results.md")  # `{#id}` headings
    assert "how-the-space-is-tested-here" in anchors("hub.md")  # a toc slug
    assert {"train-vae", "divergences-sweep"} <= anchors("cli.md")  # made by the hook at build time
    assert "no-such-anchor" not in anchors("results.md")


def test_readme_references_name_a_readme_section() -> None:
    sections = set(re.findall(r"^#+ (.+?)\s*$", README.read_text(), flags=re.M))
    stale = []
    for path in scanned_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for match in README_REFERENCE.finditer(line):
                if match["section"] not in sections:
                    stale.append(f"{path.relative_to(REPO_ROOT)}:{number}: README: {match['section']}")
    assert stale == [], f"point these at the docs page that holds the content (docs/…): {stale}"


def test_the_readme_stays_short() -> None:
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES}): move detail to docs/"


def module_map() -> str:
    text = README.read_text()
    start, end = text.index("<!-- --8<-- [start:modules] -->"), text.index("<!-- --8<-- [end:modules] -->")
    return text[start:end]


def test_the_readme_module_map_names_every_module_and_only_modules_that_exist() -> None:
    named = set(re.findall(r"`([\w./-]+(?:\.py|/))`", module_map()))
    missing_files = sorted(name for name in named if not (REPO_ROOT / name).exists())
    assert missing_files == [], f"the module map names files that do not exist: {missing_files}"
    modules = {f"vaegan/{path.name}" for path in (REPO_ROOT / "vaegan").glob("*.py")}
    packages = {f"vaegan/{path.parent.name}/" for path in (REPO_ROOT / "vaegan").glob("*/__init__.py")}
    unnamed = sorted((modules | packages | {"cli.py", "demo/", "bench/", "tests/"}) - named)
    assert unnamed == [], f"add these to README's Architecture (the one module map): {unnamed}"


def test_the_readme_python_api_snippet_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The snippet as it stands in the README, on the shipped checkpoints: a number and a list of W1 estimates."""
    if not (REPO_ROOT / "checkpoints" / "wgan.safetensors").exists():
        pytest.skip("the shipped checkpoints are not in this checkout")
    snippet = re.search(r"^## Python API\n\n```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    assert snippet, "README.md has no Python API snippet"
    assert len(snippet[1].strip().splitlines()) <= 12
    monkeypatch.chdir(REPO_ROOT)
    exec(compile(snippet[1], "README.md: Python API", "exec"), {})  # noqa: S102 - our own README's snippet
    log_px, estimates = capsys.readouterr().out.strip().splitlines()
    assert float(log_px) < 0
    assert len(eval(estimates)) == 21  # noqa: S307 - a printed list of floats, one per θ


def test_the_cli_reference_lists_every_visible_command_and_no_hidden_one() -> None:
    reference = hooks().reference_markdown()
    root, context = hooks().root_command()
    listed = {" ".join(path) for path, _, _ in hooks().visible_commands(root, context)}
    assert {"train vae", "eval vae", "train wgan", "sample wgan", "explore perturb", "divergences sweep",
            "divergences train-generator", "push"} <= listed  # fmt: skip
    for name in listed:
        assert f"## `vaegan {name}`" in reference, name
    visible_top = {name for name, command in root.commands.items() if not command.hidden}
    assert {name.split()[0] for name in listed} == visible_top
    for hidden in ("compare", "dynamics"):
        assert root.commands[hidden].hidden and f"`vaegan {hidden}`" not in reference
    assert "`--time-budget <str>`" in reference and "`-o, --out, --output <path>`" in reference
    assert "[default: " not in reference  # defaults have their own column
