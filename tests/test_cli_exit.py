"""How `python cli.py` ends: without the interpreter's teardown (cli._exit_without_teardown), but with every exit
handler that the command registered run, all of its output written, and its exit code kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

TINY = ["compare", "--thetas", "0,1", "--iters", "3", "--heatmap-thetas", ""]

# Runs cli.py as `python cli.py` does (run_name "__main__"), with the sweep wrapped so that the command registers an
# exit handler, keeps an object whose finalizer only the interpreter's teardown would call, and can fail.
SCRIPT = """
import atexit, runpy, sys
import vaegan.divergences as divergences

marker, mode, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
real = divergences.run_sweep


class TornDown:
    def __del__(self, open=open, path=marker + ".teardown"):  # bound now: the teardown clears builtins too
        open(path, "w").close()


def run_sweep(*args, **kwargs):
    atexit.register(lambda: open(marker + ".handler", "w").close())
    divergences.kept = TornDown()
    if mode == "raise":
        raise RuntimeError("boom")
    return real(*args, **kwargs)


divergences.run_sweep = run_sweep
sys.argv = ["cli.py", *argv]
runpy.run_path("cli.py", run_name="__main__")
"""


def run(*args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "cli.py", *args] if script is None else [sys.executable, "-c", script, *args]
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_a_command_prints_everything_and_exits_zero(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    done = run(*TINY, "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()  # a pipe, so block-buffered: only a flush at exit writes the end of it
    assert lines[0].lstrip().startswith("θ") and len(lines) >= 5
    assert any("wasserstein" in line and "max |estimate - truth|" in line for line in lines[-2:]), lines[-2:]
    assert out.is_file() and f"wrote {out}" in done.stderr


def test_errors_keep_their_exit_codes() -> None:
    bad_value = run("compare", "--divergences", "nonsense")
    assert bad_value.returncode == 2 and "error:" in bad_value.stderr and "unknown divergence" in bad_value.stderr
    usage = run("compare", "--iters", "0")
    assert usage.returncode == 2 and "--iters" in usage.stderr


def test_the_commands_exit_handlers_run_and_the_teardown_does_not(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    done = run(str(marker), "ok", *TINY, "--out", str(tmp_path / "s.json"), script=SCRIPT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(f"{marker}.handler").exists(), "an exit handler the command registered did not run"
    assert not Path(f"{marker}.teardown").exists(), "the interpreter's teardown ran"


def test_an_unexpected_error_still_exits_one_with_its_traceback(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    done = run(str(marker), "raise", *TINY, "--out", str(tmp_path / "s.json"), script=SCRIPT)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: boom" in done.stderr
    assert Path(f"{marker}.handler").exists()
