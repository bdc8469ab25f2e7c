"""The dossier step of the eleventh year (issue 19): every flagged city-year of the history is rendered again when
a new year moves the window, and each dossier lists the warehouse's whole ledger of ingested files, which grows
with the history. The ledger's table is a Markdown block of its own, converted once per batch by the memoised
converter, and the files are the bytes they were when it closed the block before it."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.evaluation import dossier as D

pytestmark = pytest.mark.slow

FILES_HEADING = "### 入库文件 / Ingested files"


def test_the_ingested_files_table_is_converted_once_per_batch(sample_snapshot, tmp_path, monkeypatch):
    snap = sample_snapshot.snapshot
    with duckdb.connect(str(snap), read_only=True) as con:
        flagged = D.flagged_unit_years(con)[:6]
        assert con.execute("select count(*) from raw.ingested_files").fetchone()[0] > 0
    assert len(flagged) >= 2
    converted = []
    real = D.safe_markdown
    monkeypatch.setattr(D, "safe_markdown", lambda text: converted.append(text) or real(text))
    D.write_dossiers(snap, flagged, tmp_path)
    with_files = [t for t in converted if FILES_HEADING in t]
    assert len(with_files) == 1 and with_files[0].startswith(FILES_HEADING)


def test_the_ledgers_block_converts_as_it_did_inside_the_block_before(sample_snapshot):
    """The HTML is unchanged: the block before it and the ledger's block convert apart to what their join did."""
    snap = sample_snapshot.snapshot
    with duckdb.connect(str(snap), read_only=True) as con:
        unit, year = D.flagged_unit_years(con)[0]
        data = D.dossier_data(con, unit, year)
    blocks = []
    markdown_text, page = D._render(data, lambda text: blocks.append(text) or D.safe_markdown(text))
    i = next(i for i, b in enumerate(blocks) if b.startswith(FILES_HEADING))
    before, files = blocks[i - 1], blocks[i]
    assert f"{before}\n\n{files}" in markdown_text
    assert D.safe_markdown(f"{before}\n\n{files}") == D.safe_markdown(before) + "\n" + D.safe_markdown(files)
    assert D.safe_markdown(before) + "\n" + D.safe_markdown(files) in page
