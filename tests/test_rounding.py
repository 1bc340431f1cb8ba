"""The result files' rounding: the NumPy path against the one-number f-string it replaces, and the shipped files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vaegan.divergences import SweepResult, load_generator_run
from vaegan.divergences.rounding import round_significant, round_significant_nested

ROOT = Path(__file__).resolve().parents[1]


def same_float(a: float, b: float) -> bool:
    """Equal as floats, NaN equal to NaN, and -0.0 told apart from 0.0."""
    return (a == b or (math.isnan(a) and math.isnan(b))) and math.copysign(1, a) == math.copysign(1, b)


def samples(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    powers = 10.0 ** np.arange(-30, 31)
    return {
        "normal": rng.standard_normal(n),
        "float32 values (what the critics output)": rng.standard_normal(n).astype(np.float32).astype(np.float64),
        "every magnitude": np.exp(rng.uniform(-700, 700, n)) * rng.choice([-1.0, 1.0], n),
        "dyadic (exact ties)": rng.integers(-(2**20), 2**20, n) / 2.0 ** rng.integers(0, 24, n),
        "decimal near-ties": np.round(rng.uniform(-100, 100, n), 4) + 5e-5,
        "powers of ten and neighbours": np.concatenate([powers, np.nextafter(powers, 0), np.nextafter(powers, np.inf)]),
    }


@pytest.mark.parametrize("digits", [1, 3, 4, 5, 6, 10, 15, 16, 17])
def test_the_array_path_gives_the_f_string_floats_bit_for_bit(digits: int) -> None:
    rng = np.random.default_rng(digits)
    for what, values in samples(rng, 60_000).items():
        values = values.tolist()
        got = round_significant_nested(values, digits)
        wrong = [(v, g) for v, g in zip(values, got, strict=True) if not same_float(round_significant(v, digits), g)]
        assert not wrong, f"{what}, {digits} digits: {wrong[:3]}"


def test_nearly_every_critic_output_takes_the_array_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The f-string is the fallback for near-ties and out-of-range numbers only, not the common case."""
    import vaegan.divergences.rounding as rounding

    calls = []
    monkeypatch.setattr(rounding, "round_significant", lambda v, d: calls.append(v) or round_significant(v, d))
    values = np.random.default_rng(0).standard_normal(100_000).astype(np.float32).astype(np.float64).tolist()
    rounding.round_significant_nested(values, 4)
    assert len(calls) < 1_000


def test_special_values_and_shapes() -> None:
    special = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308, 9.9995, 0.125, 1.5]
    got = round_significant_nested(special, 2)
    assert all(same_float(round_significant(v, 2), g) for v, g in zip(special, got, strict=True))
    assert round_significant_nested([[1.23456, 2.0], [3.33333, 4.0]], 3) == [[1.23, 2.0], [3.33, 4.0]]
    assert round_significant_nested([[1.23456], [3.33333, 4.0]], 3) == [[1.23], [3.33, 4.0]]  # ragged
    assert round_significant_nested({"a": [0.123456], "b": {"c": 2.71828}}, 2) == {"a": [0.12], "b": {"c": 2.7}}
    assert round_significant_nested([], 3) == [] and round_significant_nested([[]], 3) == [[]]
    assert round_significant_nested(3.14159, 3) == 3.14 and isinstance(round_significant_nested([1.0], 2)[0], float)


def test_every_shipped_result_file_is_written_again_byte_for_byte() -> None:
    """The files under results/ were written with the one-number rounding; loading one and writing it again with
    the array rounding must give the same bytes (a check on the rounding and on the JSON round trip at once)."""
    files = sorted((ROOT / "results").glob("d*.json"))
    assert len(files) >= 8, "the shipped divergence and dynamics results are missing"
    for path in files:
        result = SweepResult.load(path) if path.name.startswith("divergences") else load_generator_run(path)
        assert result.to_json() == path.read_text(), path.name
