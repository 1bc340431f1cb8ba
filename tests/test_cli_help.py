"""`vaegan --help` at every level: torch-free and fast, choices from the library, and the old command names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vaegan import vocabulary

REPO_ROOT = Path(__file__).resolve().parents[1]

# Invokes the app's help in this process and reports whether torch (or the app, or Plotly) came with it.
HELP_PROBE = """
import sys
from vaegan.cli import main
code = main(sys.argv[1:])
heavy = [m for m in ("torch", "numpy", "plotly", "streamlit", "demo") if m in sys.modules]
print("heavy:", heavy)
sys.exit(code)
"""

HELP_LEVELS = [["--help"], ["train", "--help"], ["train", "wgan", "--help"], ["divergences", "--help"],
               ["divergences", "sweep", "--help"], ["divergences", "train-generator", "--help"],
               ["eval", "vae", "--help"], ["explore", "rank", "--help"], ["push", "--help"], ["compare", "--help"]]


@pytest.mark.parametrize("args", HELP_LEVELS, ids=" ".join)
def test_help_imports_no_torch(args: list[str]) -> None:
    run = subprocess.run([sys.executable, "-c", HELP_PROBE, *args], capture_output=True, text=True, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    assert "heavy: []" in run.stdout, run.stdout[-300:]


def test_choices_are_the_librarys() -> None:
    run = subprocess.run([sys.executable, "-m", "vaegan", "divergences", "sweep", "--help"], capture_output=True,
                         text=True, cwd=REPO_ROOT, env={"COLUMNS": "300", "PATH": ""})  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "|".join(vocabulary.SWEEP_FAMILIES) in run.stdout


def test_old_names_are_hidden_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    from vaegan.cli import main

    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert "divergences" in listed and " compare " not in listed and " dynamics " not in listed
    # A bad flag stops the command before it trains: the alias still announces its new name first.
    assert main(["compare", "--thetas", "0:2", "--out", "/nonexistent/x.json"]) == 2
    assert "`compare` is now `vaegan divergences sweep`" in capsys.readouterr().err
    assert main(["dynamics", "--all", "--steps", "3"]) == 2
    assert "`dynamics` is now `vaegan divergences train-generator`" in capsys.readouterr().err


def test_alias_runs_the_new_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vaegan.cli import main

    args = ["--thetas", "0,1", "--iters", "2", "--width", "4", "--depth", "1", "--divergences", "hellinger"]
    assert main(["compare", *args, "--out", str(tmp_path / "old.json")]) == 0
    assert "`compare` is now `vaegan divergences sweep`" in capsys.readouterr().err
    assert main(["divergences", "sweep", *args, "--out", str(tmp_path / "new.json")]) == 0
    old, new = (tmp_path / "old.json").read_text(), (tmp_path / "new.json").read_text()
    assert len(old) > 0 and old.split('"seconds"')[0] == new.split('"seconds"')[0]


def test_module_and_script_entry_points() -> None:
    for command in ([sys.executable, "-m", "vaegan", "--help"], [sys.executable, "cli.py", "train", "wgan", "--help"]):
        run = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
        assert run.returncode == 0 and "Usage" in run.stdout, (command, run.stderr)
