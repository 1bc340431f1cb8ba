"""The one spec grammar (vaegan/data/spec.py): PART(+PART)*, PART = SOURCE[@start:stop]."""

from __future__ import annotations

import pytest

from vaegan.data import Part, Rows, parse_spec
from vaegan.errors import DataError


def test_parts_sources_and_rows() -> None:
    spec = parse_spec(" a.npz@2:5 + mnist +runs/b.npz@8: ")
    assert spec.parts == (
        Part(text="a.npz@2:5", source="a.npz", rows=Rows(2, 5)),
        Part(text="mnist", source="mnist", rows=None),
        Part(text="runs/b.npz@8:", source="runs/b.npz", rows=Rows(8, None)),
    )
    assert spec.text == " a.npz@2:5 + mnist +runs/b.npz@8: " and spec.whole_source is None
    assert parse_spec("x@:-100").parts[0].rows == Rows(None, -100)
    assert parse_spec("x@:").parts[0].rows == Rows(None, None)


def test_whole_source_is_one_part_without_rows() -> None:
    assert parse_spec("binarized-mnist").whole_source == "binarized-mnist"
    assert parse_spec("mnist@0:10").whole_source is None
    assert parse_spec("a.npz+b.npz").whole_source is None


@pytest.mark.parametrize(
    "text", ["data/user@host/x.npz", "x@2x.npz", "mail@example.org.npz", "a@b", "C:\\data@v1:2\\x.npz"]
)
def test_an_at_sign_inside_a_path_is_not_a_row_range(text: str) -> None:
    assert parse_spec(text).parts == (Part(text=text, source=text, rows=None),)


@pytest.mark.parametrize("rows", ["@a:b", "@1.5:3", "@0:8k", "@1:2:3", "@ : x", "@--1:"])
def test_bad_numbers(rows: str) -> None:
    with pytest.raises(DataError, match="rows must be @start:stop with whole numbers"):
        parse_spec(f"x.npz{rows}")


@pytest.mark.parametrize("rows", ["@5:5", "@7:3", "@-2:-5"])
def test_ranges_empty_in_every_source_fail_before_loading(rows: str) -> None:
    with pytest.raises(DataError, match="is empty"):
        parse_spec(f"x.npz{rows}")


@pytest.mark.parametrize("text", ["a.npz+", "+a.npz", "a.npz++b.npz", "a.npz+ +b.npz"])
def test_empty_parts(text: str) -> None:
    with pytest.raises(DataError, match="is empty"):
        parse_spec(text)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_spec(text: str) -> None:
    with pytest.raises(DataError, match="empty data spec"):
        parse_spec(text)


def test_a_row_range_needs_a_source() -> None:
    with pytest.raises(DataError, match="no source before the row range"):
        parse_spec("@0:10")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (Rows(2, 5), slice(2, 5)),
        (Rows(None, None), slice(0, 10)),
        (Rows(-3, None), slice(7, 10)),
        (Rows(0, 10), slice(0, 10)),
    ],
)
def test_rows_select_inside_the_set(rows: Rows, expected: slice) -> None:
    assert rows.select(10, "x") == expected


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (Rows(0, 11), r"'x@0:11': rows 0:11 are outside 0:10"),
        (Rows(10, None), "rows 10: are outside"),
        (Rows(-11, None), "rows -11: are outside"),
        (Rows(None, -11), "rows :-11 are outside"),
        (Rows(-2, 3), "row range -2:3 is empty"),
        (Rows(4, -8), "row range 4:-8 is empty"),
    ],
)
def test_rows_out_of_range_or_empty_in_this_set(rows: Rows, message: str) -> None:
    with pytest.raises(DataError, match=message):
        rows.select(10, f"x@{rows}")
