"""vaegan.allocator: with freed memory kept, a block allocated again reuses its pages instead of faulting them in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What a training step does to glibc, without torch: allocate a 30 MB block, touch it, free it, and again. Prints
# the minor page faults of the second round. With glibc's defaults the first block is mmapped and unmapped at free,
# and the second comes from a heap just grown for it: its pages fault again. Kept memory is reused: no faults.
LOOP = """
import ctypes, resource, sys
if sys.argv[1] == "tuned":
    from vaegan.allocator import keep_freed_memory
    assert keep_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 30 << 20
def one_round():
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
one_round()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
one_round()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", LOOP, mode], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_keeping_freed_memory_reuses_pages_instead_of_faulting_them_in_again() -> None:
    pages = (30 << 20) // 4096
    plain, tuned = faults("plain"), faults("tuned")
    assert plain > pages / 2, plain  # the control: without it, the second round faults its pages in again
    assert tuned < pages / 50, tuned


def test_it_is_a_no_op_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaegan import allocator

    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.keep_freed_memory() is False


def test_the_environment_can_keep_glibcs_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaegan import allocator

    monkeypatch.setenv("VAEGAN_KEEP_FREED_MEMORY", "0")
    assert allocator.keep_freed_memory() is False


def test_the_cli_keeps_freed_memory_before_any_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import cli
    import vaegan.cli.entry

    calls: list[bool] = []
    monkeypatch.setattr(vaegan.cli.entry, "keep_freed_memory", lambda: calls.append(True) or True)
    assert cli.main(["--help"]) == 0
    assert calls == [True]


def test_the_cli_collects_cycles_rarely_before_any_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's import is a seventh faster when the cycle collector does not rescan its objects every 700 new ones."""
    import gc

    import cli

    before = gc.get_threshold()
    try:
        assert cli.main(["--help"]) == 0
        assert gc.get_threshold() == cli.GC_THRESHOLDS and cli.GC_THRESHOLDS[0] >= 10_000
    finally:
        gc.set_threshold(*before)
