"""Rounding to significant digits for the result files: one number at a time, and a whole nested list at once.

The result files keep a few significant digits per number (small JSON, nothing lost that a plot can show). A sweep
records about 150,000 heat-map values, and rounding them one f-string at a time was a visible part of a default
`vaegan divergences sweep` (docs/results.md#speed); `round_significant_nested` rounds them with NumPy and gives the same
floats, bit for bit.

Why the NumPy path is exact: with d decimals (10^|d| is a double exactly for |d| <= 22), x·10^d is rounded to the
nearest integer m half to even, and m / 10^d (or m·10^-d) is one correctly rounded operation, so the result is the
double nearest to the decimal m·10^-d, which is what float(f"{x:.{digits}g}") returns. The one inexact step is the
product x·10^d itself: it can move a value that lies within a few units in the last place of a half-integer to the
other side of it. Those values, and any whose exponent log10 misjudged or that are out of the exact range, are
rounded by the f-string instead (tests/test_rounding.py compares both on millions of numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def round_significant(value: float, digits: int) -> float:
    """Round to `digits` significant digits (every result file of the package rounds with this or the next)."""
    return float(f"{value:.{digits}g}")


def round_significant_nested(values: Any, digits: int) -> Any:
    """`round_significant` of every number in nested lists and dicts of them, returned with the same nesting."""
    if isinstance(values, dict):
        return {key: round_significant_nested(value, digits) for key, value in values.items()}
    try:
        array = np.asarray(values, dtype=np.float64)
    except ValueError:  # ragged: rows of different lengths
        return [round_significant_nested(part, digits) for part in values]
    if array.ndim == 0:
        return round_significant(float(array), digits)
    return _round_array(array.ravel(), digits).reshape(array.shape).tolist()


def _round_array(x: np.ndarray, digits: int) -> np.ndarray:
    out = x.copy()
    numbers = np.isfinite(x) & (x != 0)  # zeros (of either sign) and non-finite numbers are their own rounding
    decimals = (digits - 1) - np.floor(np.log10(np.abs(np.where(numbers, x, 1.0))))
    # 10^k is exact for k <= 22, and m < 10^digits an exact integer for digits <= 15
    chosen = numbers & (np.abs(decimals) <= 22) & (digits <= 15)
    power = 10.0 ** np.abs(np.where(chosen, decimals, 0.0))
    up = decimals >= 0
    x_chosen = np.where(chosen, x, 1.0)
    scaled = np.where(up, x_chosen * power, x_chosen / power)
    nearest = np.rint(scaled)  # half to even, as formatting rounds an exact tie
    fraction = np.abs(scaled - np.trunc(scaled))
    near_tie = np.abs(fraction - 0.5) <= 4 * np.spacing(np.abs(scaled))
    in_range = (np.abs(nearest) > 10.0 ** (digits - 1)) & (np.abs(nearest) <= 10.0**digits)
    fast = chosen & ~near_tie & in_range
    out[fast] = np.where(up, nearest / power, nearest * power)[fast]
    for i in np.flatnonzero(numbers & ~fast):
        out[i] = round_significant(float(x[i]), digits)
    return out


__all__ = ["round_significant", "round_significant_nested"]
