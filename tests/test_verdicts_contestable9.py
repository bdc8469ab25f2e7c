"""Verdicts a city cannot contest, round 9.

1. The provincial extracts' 综合指数 (and 发布时综合指数) showed the composite index at 9 significant figures beside
   a rank decided on the PUBLISHED figure (round 8): a city read two neighbours with different figures sharing a
   rank. Every file of the extract (CSV, XLSX, Parquet) now shows composite_index_published, the figure the rank,
   the tie and the group are decided on.

Labels and thresholds are read from the seeds, never copied here."""

from __future__ import annotations

import io

import duckdb
import openpyxl
import polars as pl

from pipelines import extracts as X
from pipelines.labels import published_index


def _file(root, entry, fmt, table):
    return root / next(f["path"] for f in entry["files"] if f["format"] == fmt and f["table"] == table)


def _shown_frames(root, entry) -> dict[str, pl.DataFrame]:
    """The scores table as each format shows it: unit code, 综合指数, 排名 (and the released index when present)."""
    pq = pl.read_parquet(_file(root, entry, "parquet", "scores"))
    cols = {"unit_code": "code", "composite_index": "index", "rank": "rank"}
    if "released_composite_index" in pq.columns:
        cols["released_composite_index"] = "released"
    out = {"parquet": pq.select(list(cols)).rename(cols)}
    heads = {X.HEADERS.get(c, c): v for c, v in cols.items()}
    heads[X.HEADERS["unit_code"]] = "code"
    raw = _file(root, entry, "csv", "scores").read_bytes()[3:]
    csv = pl.read_csv(io.BytesIO(raw), infer_schema_length=0)
    out["csv"] = (
        csv.select(list(heads))
        .rename(heads)
        .with_columns(pl.col(c).replace("", None).cast(pl.Float64) for c in heads.values() if c != "code")
    )
    wb = openpyxl.load_workbook(_file(root, entry, "xlsx", "all"), read_only=True)
    rows = list(wb["得分排名与评价阶段"].iter_rows(values_only=True))
    wb.close()
    head = list(rows[0])
    recs = [dict(zip(head, r)) for r in rows[1:]]
    out["xlsx"] = pl.DataFrame(
        {
            v: [None if r[h] in (None, "") else (str(r[h]) if v == "code" else float(r[h])) for r in recs]
            for h, v in heads.items()
        },
        schema={v: (pl.String if v == "code" else pl.Float64) for v in heads.values()},
    )
    return out


def test_every_extract_shows_the_published_index_beside_its_rank(sample_snapshot, tmp_path):
    """Every province's extract of the latest year, in every format: 综合指数 is the published figure of the marts
    (composite_index_published), the released index is the published figure too, and within a file two rows
    share a rank exactly when they show the same figure."""
    snap = sample_snapshot.snapshot
    with duckdb.connect(str(snap), read_only=True) as con:
        year = con.sql("select max(year) as y from marts.fct_evaluation_year").pl()["y"][0]
        want = con.sql(
            "select unit_code as code, composite_index_published as index from marts.fct_city_score_year "
            "where year = ?",
            params=[year],
        ).pl()
    want = dict(zip(want["code"], want["index"]))
    X.write_all(snap, tmp_path, years=[year])
    seen = 0
    with duckdb.connect(str(snap), read_only=True) as con:
        provinces = X.province_codes(con)
    for p in provinces:
        versions = X.read_versions(tmp_path, p, year)
        if not versions:
            continue
        for fmt, df in _shown_frames(tmp_path, versions[-1]).items():
            for r in df.iter_rows(named=True):
                assert r["index"] == want[r["code"]], (p, fmt, r)
                if r.get("released") is not None:
                    assert r["released"] == published_index(r["released"]), (p, fmt, r)
                seen += 1
            ranked = df.filter(pl.col("rank").is_not_null())
            by_rank = ranked.group_by("rank").agg(pl.col("index").n_unique())
            assert (by_rank["index"] == 1).all(), (p, fmt, by_rank)
            by_index = ranked.group_by("index").agg(pl.col("rank").n_unique())
            assert (by_index["rank"] == 1).all(), (p, fmt, by_index)
    assert seen > 100


# --- 2. a cycle verdict revised after publication: old → new in the extracts and the profile ----------------------


def _releases_con(current_verdict: str) -> duckdb.DuckDBPyConnection:
    """A real DuckDB holding a release of cycle 2022-2024 judged 'rectification' (published)."""
    con = duckdb.connect()
    con.execute("create schema releases")
    con.execute(
        "create table releases.acceptance_score as select 'R2024-01' as release_id, '320100' as unit_code, "
        "2022 as cycle_first_year, 71.0::double as acceptance_score, 'pass' as acceptance_band, 'scored' as acceptance_status"
    )
    con.execute(
        "create table releases.evaluation_cycle as select 'R2024-01' as release_id, '320100' as unit_code, "
        "2022 as cycle_start, 'rectification' as verdict, 'final' as verdict_status"
    )
    return con


def _acceptance(verdict: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit_code": ["320100"],
            "cycle_first_year": [2022],
            "cycle_last_year": [2024],
            "acceptance_score": [71.0],
            "acceptance_band": ["pass"],
            "acceptance_status": ["scored"],
            "cycle_verdict": [verdict],
            "cycle_verdict_status": ["final"],
        }
    )


def test_the_extract_shows_a_cycle_verdict_revised_after_publication_as_old_and_new():
    """The acceptance sheet said only 当前数据与发布不同 (and nothing at all when the score and band stayed): it now
    holds the cycle verdict as released and, when data corrected since moved it, old → new in both languages."""
    from pipelines.labels import label_text

    with _releases_con("normal") as con:
        out = X.with_released_acceptance(con, _acceptance("normal"), 2024, {"release_id": "R2024-01"})
        same = X.with_released_acceptance(con, _acceptance("rectification"), 2024, {"release_id": "R2024-01"})
    row = out.row(0, named=True)
    assert row["released_cycle_verdict"] == "rectification"
    text = row["cycle_verdict_revision"]
    for lang in ("zh", "en"):
        assert label_text("revised_after_publication", lang) in text
        assert f"{label_text('rectification', lang)} → {label_text('normal', lang)}" in text
    assert same.row(0, named=True)["cycle_verdict_revision"] is None
    # the new columns have Chinese headers and the verdict reads in words in CSV/XLSX
    assert {"released_cycle_verdict", "cycle_verdict_revision"} <= set(X.HEADERS)
    assert X.VALUE_LABEL_SETS["released_cycle_verdict"] == X.VALUE_LABEL_SETS["cycle_verdict"]


def test_the_profile_shows_a_cycle_verdict_revised_after_publication_as_old_and_new():
    """The profile's release line said only "current data differ": it now shows the published cycle verdict and the
    current one, marked (labels seed revised_after_publication), in the page's language."""
    from dashboards.pages.profile import acceptance_view
    from pipelines.labels import label_text

    release = {
        "release_id": "R2024-01",
        "evaluation_year": 2024,
        "data_version": "3f-abc",
        "catalog_version": "2024.1",
        "rules_version": "2024.1",
        "code_version": "abc",
        "released": {"stage": "rectification", "composite_index": 61.0},
        "differs": True,
        "released_cycle": {"cycle_start": 2022, "verdict": "rectification", "verdict_status": "final"},
        "current_cycle": {"cycle_start": 2022, "verdict": "normal", "verdict_status": "final"},
    }
    for lang in ("zh", "en"):
        view = str(acceptance_view(None, release, None, lang))
        assert label_text("revised_after_publication", lang) in view
        assert f"{label_text('rectification', lang)} → {label_text('normal', lang)}" in view
    unchanged = {**release, "current_cycle": release["released_cycle"]}
    assert label_text("revised_after_publication", "en") not in str(acceptance_view(None, unchanged, None, "en"))


def test_the_report_chart_and_the_flag_history_show_the_published_figure():
    """80.05 is 80.04999… in binary: the PDF report's bar printed f"{v:.1f}" = 80.0 and the flag page's history hover
    plotly's %{y:.1f}, beside a rank decided on the published 80.1. Both now show index_text."""
    from dashboards.pages.flag import history_figure
    from dashboards.report import bar_chart_svg
    from pipelines.labels import index_text

    assert index_text(80.05) == "80.1"
    svg = bar_chart_svg(["A"], [80.05], ["#000"])
    assert ">80.1</text>" in svg and ">80.0</text>" not in svg
    h = pl.DataFrame(
        {
            "year": [2023, 2024],
            "composite_index": [80.05, 69.95],
            "rank": [3, 9],
            "n_ranked": [10, 10],
            "p05_rank": [None, None],
            "p95_rank": [None, None],
        },
        schema_overrides={"p05_rank": pl.Int64, "p95_rank": pl.Int64},
    )
    fig = history_figure(h, "en")
    trace = fig.data[0]
    assert list(trace.customdata) == ["80.1", "70.0"] and "%{customdata}" in trace.hovertemplate
    assert ":.1f" not in trace.hovertemplate


def test_the_bottom_group_alert_tells_the_published_index():
    """The alert's detail carried the index at 9 decimals (69.9500000001) beside a shared rank decided on 70.0."""
    from pipelines.alerts.conditions import bottom_group
    from pipelines.alerts.config import load_rules

    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        """create table marts.dim_city as select * from (values
             ('410100', '郑州市', 'Zhengzhou', '410000', '河南省', true, 'active'),
             ('410300', '洛阳市', 'Luoyang', '410000', '河南省', true, 'active'))
           t(unit_code, unit_name, unit_name_en, province_code, province_name, is_programme, programme_status)"""
    )
    con.execute(
        """create table marts.fct_city_score_year as select * from (values
             ('410100', 2025, 39, 40, true, 'emerging', 59.95000000001, 60.0, -3),
             ('410300', 2025, 39, 40, true, 'emerging', 59.96, 60.0, -12))
           t(unit_code, year, rank, n_ranked, rank_is_shared, performance_group, composite_index,
             composite_index_published, rank_change)"""
    )
    shown = {c.unit_code: c.detail["composite_index"] for c in bottom_group(con, load_rules())}
    assert shown == {"410100": published_index(59.95000000001), "410300": 60.0}
