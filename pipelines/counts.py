"""Counts said as readers say them: "1 row" / "2 rows" in English, "1行" / "2项" in 简体中文.

English agreement follows CLDR's plural rules through Babel (a maintained library, already in the environment with
dbt): "1 rows" and "1 blocking failures" read as a machine's. Chinese has no plural, and officials write the number
against its measure word, with no space between ("未通过2行", "共5项检查"), as the national standard on numerals in
publications (GB/T 15835) prints them.
"""

from __future__ import annotations

import functools


@functools.cache
def _english():
    from babel import Locale

    return Locale.parse("en")


def count_en(n: int | float, one: str, other: str | None = None) -> str:
    """``n`` with the noun in agreement: count_en(1, "row") is "1 row", count_en(2_000, "row") "2,000 rows";
    ``other`` for an irregular plural (count_en(2, "was", "were"))."""
    form = _english().plural_form(abs(n))
    noun = one if form == "one" else (other or f"{one}s")
    return f"{n:,} {noun}"


def noun_en(n: int | float, one: str, other: str | None = None) -> str:
    """The noun a list of ``n`` items is named by, in agreement and without the number: noun_en(1, "column") is
    "column", noun_en(3, "column") "columns" ("ignored extra columns: 备注, 说明"; never "column(s)", which reads as
    a program's hedge where the list itself shows how many there are)."""
    return count_en(n, one, other).split(" ", 1)[1]


def count_zh(n: int | float, unit: str) -> str:
    """``n`` against its measure word, no space: count_zh(2, "行") is "2行", count_zh(12_000, "项") "12,000项"."""
    return f"{n:,}{unit}"
