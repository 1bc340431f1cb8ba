"""bench/wgan_levers.py: every lever can be named on its command line and gives a valid recipe."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from vaegan.train.wgan import recipe

ROOT = Path(__file__).resolve().parents[1]


def load_bench():  # noqa: ANN201 - a module loaded from its file (bench/ is scripts, not a package)
    spec = importlib.util.spec_from_file_location("wgan_levers", ROOT / "bench" / "wgan_levers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = load_bench()


@pytest.mark.parametrize("name", [name for name in BENCH.LEVERS if name != BENCH.BASELINE])
def test_each_lever_can_be_named_alone_and_makes_a_valid_recipe(name: str) -> None:
    assert BENCH.lever_names(name) == [BENCH.BASELINE, name]
    model, train = recipe("fast", **BENCH.LEVERS[name])
    for field, value in BENCH.LEVERS[name].items():
        assert getattr(model, field, None) == value or getattr(train, field, None) == value


def test_all_levers_together_parse_in_order_and_an_unknown_one_exits() -> None:
    levers = [name for name in BENCH.LEVERS if name != BENCH.BASELINE]
    assert BENCH.lever_names(" , ".join(levers)) == [BENCH.BASELINE, *levers]
    with pytest.raises(SystemExit, match="unknown lever"):
        BENCH.lever_names("width 24,no such lever")
