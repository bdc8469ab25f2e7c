"""Office files as they are really sent: numbers grouped by spaces, accounting-style negatives, and a header's unit
written after a slash, an underscore or a space. Each value case runs through the Polars reader and the DuckDB
scan (`big`: a file past contract_sql.SCAN_MIN_BYTES)."""

from __future__ import annotations

import pytest
from test_ingest_loaders import HEADER_ZH, PLEDGE, TODAY, _accounting, _write
from test_ingest_loaders import scan_filler as _filler

from pipelines.ingest import contract_sql
from pipelines.ingest.load import ingest_file
from pipelines.ingest.readers import IngestError

# Thousands grouped by one space, in each space offices' software writes: ASCII, no-break (U+00A0), thin (U+2009),
# narrow no-break (U+202F), ideographic (U+3000).
SPACES = {"ascii": " ", "nbsp": "\u00a0", "thin": "\u2009", "narrow_nbsp": "\u202f", "ideographic": "\u3000"}


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_numbers_grouped_by_a_space_are_read_and_an_uneven_grouping_is_refused(warehouse, tmp_path, big):
    # 1 200 was refused as "not a number": the thousands separator of Word, WPS and many statistics exports.
    rows = [f"4403{i:02d},2025-01,12,1{sp}200.5,10,2,8,3" for i, sp in enumerate(SPACES.values())]  # rows 2-6
    rows += [
        "440100,2025-02,1 200,120 000,100,2,1 100,3",  # row 7: a count and an amount, 1 200 and 120 000
        "440100,2025-03,20,1 234 567,500,2,8,3",  # row 8: several groups
        "440100,2025-04,8,12 34,5,1,6,2",  # row 9: not groups of three (a decimal comma? two numbers?)
        "440100,2025-05,8,1  200,5,1,6,2",  # row 10: two spaces
        '440100,2025-06,8,"1,200 300",5,1,6,2',  # row 11: two separators in one number
        "440100,2025-07,8,1 2000,5,1,6,2",  # row 12: a group of four
    ]
    filler = _filler(big)
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *rows, *filler]) + "\n")
    if big:
        assert path.stat().st_size >= contract_sql.SCAN_MIN_BYTES
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _accounting(warehouse, "pledge_2025.csv") == (r.rows_read, r.rows_loaded, r.rows_rejected)
    got = warehouse.execute(
        "SELECT _row_number, registrations, amount_10k_yuan, enterprises_served FROM raw.pledge_loans "
        "WHERE _row_number < 13 ORDER BY _row_number"
    ).fetchall()
    assert got == [(n, 12, 1200.5, 8) for n in range(2, 7)] + [(7, 1200, 120000.0, 1100), (8, 20, 1234567.0, 8)]
    reasons = dict(
        warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 13").fetchall()
    )
    assert reasons == {
        9: "not a number in amount_10k_yuan: '12 34'",
        10: "not a number in amount_10k_yuan: '1  200'",
        11: "not a number in amount_10k_yuan: '1,200 300'",
        12: "not a number in amount_10k_yuan: '1 2000'",
    }


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_an_accounting_style_negative_is_refused_as_a_negative_not_loaded_as_positive(warehouse, tmp_path, big):
    # (1,200) is how accounting formats show -1200. It must not load as 1200, and "not a number" hid what it is.
    rows = [
        '440300,2025-01,12,"(1,200)",10,2,8,3',  # row 2
        "440100,2025-01,(5),100,5,1,6,2",  # row 3: a count
        "320500,2025-01,12,（1 200）,10,2,8,3",  # row 4: full-width brackets, a space-grouped number
        "330100,2025-01,12,(¥300),10,2,8,3",  # row 5: the currency inside the brackets
        "330200,2025-01,12,(-300),10,2,8,3",  # row 6: a sign inside the brackets: no number
        "330300,2025-01,12,300,10,2,8,3",  # row 7: fine
    ]
    filler = _filler(big)
    path = _write(tmp_path / "pledge_2025.csv", "\n".join([HEADER_ZH, *rows, *filler]) + "\n")
    if big:
        assert path.stat().st_size >= contract_sql.SCAN_MIN_BYTES
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    assert _accounting(warehouse, "pledge_2025.csv") == (r.rows_read, r.rows_loaded, r.rows_rejected)
    reasons = dict(
        warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 8").fetchall()
    )
    assert reasons == {
        2: "negative amount in parentheses in amount_10k_yuan: '(1,200)' (accounting style for -1200.0: "
        "amount_10k_yuan cannot be negative)",
        3: "negative amount in parentheses in registrations: '(5)' (accounting style for -5: registrations cannot "
        "be negative)",
        4: "negative amount in parentheses in amount_10k_yuan: '(1 200)' (accounting style for -1200.0: "
        "amount_10k_yuan cannot be negative)",
        5: "negative amount in parentheses in amount_10k_yuan: '(300)' (accounting style for -300.0: "
        "amount_10k_yuan cannot be negative)",
        6: "not a number in amount_10k_yuan: '(-300)'",
    }
    assert warehouse.execute("SELECT city_code FROM raw.pledge_loans WHERE _row_number < 8").fetchall() == [("330300",)]


def test_a_column_that_may_be_negative_reads_the_accounting_negative_as_its_value():
    # No column of today's contract may be negative; one that may reads (1,200) as -1200 through the same parser.
    import polars as pl

    from pipelines.ingest.validate import _number

    got = pl.DataFrame({"t": ["(1,200)", "(1 200.5)", "(¥3)", "((3))", "(-3)", "1 200"]}).select(_number(pl.col("t")))
    assert got.to_series().to_list() == [-1200.0, -1200.5, None, None, None, 1200.0]


# The same unit, written as offices write it: in brackets (half- or full-width), after a slash, a space (also a
# full-width one) or an underscore. Every spelling converts as the bracketed one does.
UNIT_SPELLINGS = [
    "质押金额(亿元)",
    "质押金额（亿元）",
    "质押金额/亿元",
    "质押金额／亿元",
    "质押金额 亿元",
    "质押金额\u3000亿元",
    "质押金额_亿元",
]


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
@pytest.mark.parametrize("header", UNIT_SPELLINGS)
def test_a_unit_after_a_slash_space_or_underscore_converts_as_the_bracketed_unit(warehouse, tmp_path, big, header):
    # 质押金额/万元 was refused: "missing required column(s): amount_10k_yuan".
    filler = [r.replace(",500,", ",0.05,") for r in _filler(big)]  # 0.05 亿元 = 500 万元
    lines = [HEADER_ZH.replace("质押金额(万元)", header), "440300,2025-01,12,1.5,10,2,8,3", *filler]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines) + "\n")
    if big:
        assert path.stat().st_size >= contract_sql.SCAN_MIN_BYTES
    logged = len(contract_sql.READ_LOG)
    r = ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    how = [how for name, how in contract_sql.READ_LOG[logged:] if name == "pledge_2025.csv"]
    assert how == (["scan"] if big else ["frame"])
    assert r.status == "loaded" and "converted amount_10k_yuan from another unit (x10000)" in r.message
    assert warehouse.execute("SELECT count(*) FROM raw.rejected_rows WHERE row_number < 3").fetchall() == [(0,)]
    assert warehouse.execute("SELECT amount_10k_yuan FROM raw.pledge_loans WHERE _row_number = 2").fetchall() == [
        (15000.0,)
    ]


@pytest.mark.parametrize("header", ["质押金额/万元", "质押金额_万元", "质押金额 万元", "质押金额 / 单位：万元"])
def test_the_contract_unit_after_a_separator_is_read_as_it_is(warehouse, tmp_path, header):
    text = HEADER_ZH.replace("质押金额(万元)", header) + "\n440300,2025-01,12,150,10,2,8,3\n"
    r = ingest_file(warehouse, PLEDGE, _write(tmp_path / "pledge_2025.csv", text), partition=2025, today=TODAY)
    assert (r.rows_loaded, r.rows_rejected) == (1, 0) and "converted" not in r.message
    assert warehouse.execute("SELECT amount_10k_yuan FROM raw.pledge_loans").fetchall() == [(150.0,)]


def test_a_foreign_currency_after_a_slash_is_refused_naming_it(warehouse, tmp_path):
    path = _write(
        tmp_path / "pledge_2025.csv",
        HEADER_ZH.replace("质押金额(万元)", "质押金额/美元") + "\n440300,2025-01,12,1.5,10,2,8,3\n",
    )
    with pytest.raises(
        IngestError, match="header '质押金额/美元': unit '美元' cannot be converted into amount_10k_yuan"
    ):
        ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)


@pytest.mark.parametrize("big", [False, True], ids=["reader", "scan"])
def test_a_header_repeated_with_its_unit_after_a_slash_in_another_unit_is_refused(warehouse, tmp_path, big):
    # The repeated-header check reads the slash spelling too: a second table in 亿元 below one in 万元.
    header = HEADER_ZH.replace("质押金额(万元)", "质押金额/万元")
    lines = [
        header,
        "440300,2025-01,12,100,10,2,8,3",  # row 2
        header.replace("/万元", "/亿元"),  # row 3
        "440100,2025-01,8,10,5,1,6,2",  # row 4: 10 亿元
        header.replace("/万元", "(万元)"),  # row 5: the file's unit again, in brackets
        "330100,2025-01,8,200,5,1,6,2",  # row 6
    ]
    path = _write(tmp_path / "pledge_2025.csv", "\n".join(lines + _filler(big)) + "\n")
    ingest_file(warehouse, PLEDGE, path, partition=2025, today=TODAY)
    reasons = dict(
        warehouse.execute("SELECT row_number, reason FROM raw.rejected_rows WHERE row_number < 7").fetchall()
    )
    assert reasons == {
        3: "header row repeated inside the table with another unit, not a record "
        "(质押金额/亿元 where the file's header has 质押金额/万元)",
        4: "read under the header repeated at row 3 whose unit differs: send one table per file",
        5: "header row repeated inside the table, not a record",
    }
