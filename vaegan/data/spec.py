"""The one grammar of a dataset spec (what a user types after ``--data``), parsed into frozen dataclasses.

::

    SPEC  = PART ( "+" PART )*
    PART  = SOURCE [ "@" START ":" STOP ]        START, STOP: optional whole numbers, negative counts from the end

* ``+`` always separates parts; blanks around a part are ignored, an empty part is an error.
* A part's *last* ``@`` starts a row range only when the text after it holds a ``:`` and no path separator, so
  ``runs/user@host/x.npz`` is a path and ``x.npz@a:b`` is a row range with bad numbers (an error, not a file name).
* Rows are Python slice bounds (``@8:`` is row 8 to the end, ``@-100:`` the last 100 rows) that must lie inside the
  source and select at least one row. Parsing checks what it can without the data (numbers, ``@5:5``);
  `Rows.select` checks the rest once the number of rows is known.

What a SOURCE names, and how parts become a data set, is in `vaegan.data` (package docstring) and `sources.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vaegan.errors import DataError

_ROWS = re.compile(r"\s*(-?\d+)?\s*:\s*(-?\d+)?\s*")


@dataclass(frozen=True)
class Rows:
    """A row range ``start:stop`` of a source, as Python slice bounds (None: from the start / to the end)."""

    start: int | None
    stop: int | None

    def __str__(self) -> str:
        return f"{'' if self.start is None else self.start}:{'' if self.stop is None else self.stop}"

    def select(self, n: int, part: str) -> slice:
        """These rows of a set of `n` as a slice; a DataError naming `part` when they fall outside it or are empty."""
        # Bounds past the end are errors, not silently clipped as Python would: "@0:8000" on a 5,000-row file is a
        # mistake the user wants to hear about, not a smaller data set.
        start_ok = self.start is None or -n <= self.start < n
        stop_ok = self.stop is None or -n <= self.stop <= n
        if not (start_ok and stop_ok):
            raise DataError(f"{part!r}: rows {self} are outside 0:{n}")
        start, stop, _ = slice(self.start, self.stop).indices(n)
        if start >= stop:
            raise DataError(f"{part!r}: the row range {self} is empty")
        return slice(start, stop)


@dataclass(frozen=True)
class Part:
    """One ``SOURCE[@start:stop]`` of a spec."""

    text: str  # the part as typed (without surrounding blanks), for error messages
    source: str  # a source name or a path
    rows: Rows | None  # None: every row of the source


@dataclass(frozen=True)
class Spec:
    """A parsed spec: its text as typed and its parts, in order."""

    text: str
    parts: tuple[Part, ...]

    @property
    def whole_source(self) -> str | None:
        """The source when the spec is one source without a row range, else None.

        Only such a spec can keep a source's own train/valid/test splits (see `vaegan.data.load_binary_mnist`).
        """
        if len(self.parts) == 1 and self.parts[0].rows is None:
            return self.parts[0].source
        return None


def parse_rows(text: str, part: str) -> Rows:
    """``"10:20"`` -> Rows(10, 20); a DataError naming `part` for anything but two optional whole numbers."""
    match = _ROWS.fullmatch(text)
    if match is None:
        raise DataError(f"{part!r}: rows must be @start:stop with whole numbers, e.g. @0:8000")
    try:
        start, stop = (None if g is None else int(g) for g in match.groups())
    except ValueError as exc:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise DataError(f"{part[:80]!r}: row numbers that long are not rows of any data set") from exc
    # Bounds of one sign can be compared without the data: "@5:5" is empty in every source.
    if start is not None and stop is not None and (start < 0) == (stop < 0) and start >= stop:
        raise DataError(f"{part!r}: the row range {start}:{stop} is empty")
    return Rows(start, stop)


def parse_part(text: str) -> Part:
    """One part: ``SOURCE`` or ``SOURCE@start:stop`` (see the module docstring for when ``@`` is a row range)."""
    source, at, tail = text.rpartition("@")
    if not at or ":" not in tail or "/" in tail or "\\" in tail:
        return Part(text=text, source=text, rows=None)
    source = source.strip()
    if not source:
        raise DataError(f"{text!r}: no source before the row range (e.g. mnist@0:1000)")
    return Part(text=text, source=source, rows=parse_rows(tail, text))


def parse_spec(text: str) -> Spec:
    """Parse a spec (grammar in the module docstring); every malformed spec is a one-line DataError."""
    if not text.strip():
        raise DataError("empty data spec")
    parts = []
    for number, raw in enumerate(text.split("+"), start=1):
        if not raw.strip():
            raise DataError(f"{text!r}: part {number} is empty (join sources with '+', e.g. a.npz+b.npz@0:100)")
        parts.append(parse_part(raw.strip()))
    return Spec(text=text, parts=tuple(parts))
