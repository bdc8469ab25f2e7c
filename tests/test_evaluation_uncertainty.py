"""Rank uncertainty: faithful to the nominal method, seeded, and feeding is_robust in the evaluation marts."""

from __future__ import annotations

import duckdb
import evaluation_fixtures as F
import numpy as np
import polars as pl
import pytest

from pipelines.evaluation import uncertainty as U
from pipelines.evaluation.coherence import (
    COLLINEAR_ABOVE,
    SILENT_BELOW,
    cronbach_alpha,
    run_coherence,
    write_catalog_coherence,
)
from pipelines.evaluation.rules import load_rules
from pipelines.labels import group_names, load_bands, performance_group, published_index


@pytest.fixture(scope="module")
def programme():
    con = duckdb.connect()
    truth = F.synthetic_programme(con)
    yield con, truth
    con.close()


def test_group_codes_follow_the_bands_seed():
    """At, just above and just below every bound of the bands seed, the vectorised groups agree with the loader's
    (whose agreement with the dbt macro test_dbt_marts checks on the built marts)."""
    bounds = [b.lower_bound for b in load_bands() if b.lower_bound is not None]
    idx = np.array([x + d for x in bounds for d in (-1e-6, 0.0, 1e-6)] + [np.nan])
    names = group_names()
    got = [names[c] if c >= 0 else None for c in U.performance_group_codes(idx).tolist()]
    assert got == [performance_group(float(x)) for x in idx]


def test_nominal_variant_reproduces_published_index(programme):
    con, _ = programme
    scores, values, catalog = U._read_inputs(con)
    a = U._nominal_arrays(scores, values, catalog)
    ones_i = np.ones((1, len(a["indicators"])))
    ones_p = np.ones((1, len(a["pillars"])))
    comp = U._composites(a, ones_i, ones_p, geometric=False, drop_imputed=False, min_coverage=0.5)[0]
    index = 100 * comp / np.nanmean(np.where(a["ranked"], comp, np.nan), axis=1, keepdims=True)
    np.testing.assert_allclose(index[a["ranked"]], a["nominal_index"][a["ranked"]], rtol=1e-9)
    rank = U._rank_desc(index[None], a["ranked"])[0]
    # ties (units showing the same published figure: round 8 ranks them alike) are ranked by the fixture's own
    # older rule; the rest must agree
    tied = np.zeros_like(a["ranked"])
    for y in range(index.shape[0]):
        shown = published_index(np.where(a["ranked"][y], index[y], np.nan))
        d = shown[:, None] == shown[None, :]
        tied[y] = d.sum(axis=1) > 1
    check = a["ranked"] & ~tied
    assert check.sum() > 300
    np.testing.assert_array_equal(rank[check], a["nominal_rank"][check])


def test_a_unit_missing_a_whole_pillar_is_not_ranked_in_any_run():
    """As in int_composite: without a score for every pillar there is no composite, so no run ranks the unit in
    that year, and the other units' ranks close up (n ranked = the others)."""
    con = duckdb.connect()
    F.synthetic_programme(con)
    unit, year = "320100", 2020
    con.execute(
        "update marts.fct_city_indicator_year set normalised_score = null where unit_code = ? and year = ? "
        "and indicator_code in (select indicator_code from marts.dim_indicator where pillar_code = 'QLT')",
        [unit, year],
    )
    df = U.run_uncertainty(con, n_runs=20, seed=1)
    con.close()
    assert df.filter((pl.col("unit_code") == unit) & (pl.col("year") == year)).height == 0
    assert df.filter((pl.col("unit_code") == unit) & (pl.col("year") == year + 1)).height == 1
    others = df.filter(pl.col("year") == year)
    assert others.height == 39 and others["p95_rank"].max() <= 39


def test_same_seed_same_bytes_other_seed_differs(programme, tmp_path):
    con, _ = programme
    a = U.run_uncertainty(con, n_runs=200, seed=11)
    b = U.run_uncertainty(con, n_runs=200, seed=11)
    c = U.run_uncertainty(con, n_runs=200, seed=12)
    a.write_parquet(tmp_path / "a.parquet")
    b.write_parquet(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert not a.equals(c)


def test_intervals_and_shares(programme):
    con, truth = programme
    df = U.run_uncertainty(con, n_runs=400, seed=3)
    assert df.height == 40 * 10
    assert (df["p05_rank"] <= df["median_rank"]).all() and (df["median_rank"] <= df["p95_rank"]).all()
    assert df["share_bottom"].is_between(0, 1).all()
    lag = df.filter(pl.col("unit_code").is_in(truth["lagging"]))
    assert (lag["share_bottom"] == 1.0).all() and lag["is_robust_bottom"].all()
    lead = df.filter(pl.col("unit_code").is_in(truth["leading"]))
    assert (lead["share_leader"] == 1.0).all() and (lead["share_bottom"] == 0.0).all()
    # a city placed on the emerging boundary with an uneven profile flips group between runs
    border = df.filter(pl.col("unit_code").is_in(truth["borderline"]))
    assert border["share_bottom"].is_between(0.5, 0.95).all()
    assert (border["share_bottom"] < 0.8).sum() >= 5
    # regressing (R2's condition): the borderline units' index is held steady, so they never regress, while the
    # lagging units (falling every year) do in some years
    assert (border["share_regressing"].drop_nulls() == 0.0).all()
    assert lag["share_regressing"].max() == 1.0
    # the shares agree with the index quantiles of the same runs: a unit whose 95th-percentile index stays at
    # or below the leader boundary (125) is a leader in at most ~5 % of runs, one whose 5th percentile is above
    # it in at least ~95 %; likewise for the bottom group (index < 70)
    slack = 0.05 + 2 / 400
    assert df.filter(pl.col("p95_index") <= 125)["share_leader"].max() <= slack
    assert df.filter(pl.col("p05_index") > 125)["share_leader"].min() >= 1 - slack
    assert df.filter(pl.col("p05_index") >= 70)["share_bottom"].max() <= slack
    assert df.filter(pl.col("p95_index") < 70)["share_bottom"].min() >= 1 - slack
    assert df.filter((pl.col("p95_index") <= 125) & (pl.col("p05_index") >= 100)).height >= 10  # strong, not leader
    # no weight jitter, and the only other choices are aggregation and imputation: intervals shrink
    tight = U.run_uncertainty(con, n_runs=400, seed=3, weight_jitter=0.0)
    width = (df["p95_rank"] - df["p05_rank"]).mean()
    assert (tight["p95_rank"] - tight["p05_rank"]).mean() < width


def test_robustness_flows_into_the_evaluation_marts(programme, tmp_path):
    con, truth = programme
    wh = tmp_path / "wh.duckdb"
    with duckdb.connect(str(wh)) as out:
        out.execute("create schema marts; create schema raw")
        for t in (
            "dim_city",
            "dim_indicator",
            "fct_city_indicator_year",
            "fct_city_score_year",
            "fct_target_status",
            "fct_programme_unit_year",
        ):
            frame = con.sql(f"select * from marts.{t}").arrow()  # noqa: F841
            out.execute(f"create table marts.{t} as select * from frame")
        U.write_rank_uncertainty(out, U.run_uncertainty(out, n_runs=500, seed=5))
    F.run_evaluation_dbt(wh, tmp_path)
    with duckdb.connect(str(wh)) as out:
        ev = out.sql("select * from marts.fct_evaluation_year").pl()
        unc = out.sql("select * from marts.fct_rank_uncertainty").pl()
    lag = ev.filter(pl.col("unit_code").is_in(truth["lagging"]) & (pl.col("year") >= 2017))
    assert set(lag["stage"].to_list()) <= {"rectification", "exit_candidate"}
    assert lag["is_robust"].all()
    # the borderline city's flags, where it is flagged, rest on a minority-or-slim share of runs
    border = ev.filter(
        pl.col("unit_code").is_in(truth["borderline"]) & pl.col("fired_w1") & (pl.col("share_bottom") < 0.8)
    )
    assert border.height > 0
    assert not border["watch_robust"].any()
    assert not border.filter(pl.col("stage") != "watch")["is_robust"].any()
    joined = ev.join(unc, on=["unit_code", "year"], suffix="_u")
    assert (joined["share_bottom"] == joined["share_bottom_u"]).all()


def test_coherence_flags_and_alpha(programme):
    con, _ = programme
    df = run_coherence(con)
    pairs = df.filter(pl.col("row_type") == "pair")
    assert pairs["spearman"].is_between(-1, 1).all()
    assert set(pairs["flag"].drop_nulls().unique().to_list()) <= {"collinear", "silent", "ok"}
    pillars = df.filter(pl.col("row_type") == "pillar")
    assert pillars.height == 10 * 5
    # Cronbach's alpha against a hand computation: two identical items -> 1, independent items -> ~0
    x = np.random.default_rng(0).normal(size=(500, 1))
    assert cronbach_alpha(np.hstack([x, x]))[0] == pytest.approx(1.0)
    assert abs(cronbach_alpha(np.random.default_rng(1).normal(size=(2000, 3)))[0]) < 0.1
    write_catalog_coherence(con, df)
    assert con.execute("select count(*) from marts.fct_catalog_coherence").fetchall()[0][0] == df.height


def test_coherence_flags_collinear_silent_and_ok_pairs():
    """A pillar built so that each flag must fire: A and B rank the cities identically (collinear), C is
    independent of A (silent), D follows A with noise (ok). Every pair's flag follows from its Spearman rho and
    the module's thresholds; alpha of a pillar with a duplicated indicator is high."""
    rng = np.random.default_rng(18)
    n = 60
    a = rng.uniform(0, 100, n)
    cols = {"A": a, "B": 2 * a + 1, "C": rng.uniform(0, 100, n), "D": a + rng.normal(0, 25, n)}
    con = duckdb.connect()
    F.create_marts(con)
    units = [f"{110100 + 100 * i:06d}" for i in range(n)]
    con.executemany(
        "insert into marts.dim_indicator (catalog_version, indicator_code, pillar_code) values ('v', ?, 'QLT')",
        [[c] for c in cols],
    )
    con.executemany(
        "insert into marts.fct_city_indicator_year (unit_code, year, indicator_code, catalog_version, "
        "normalised_score) values (?, 2020, ?, 'v', ?)",
        [[u, c, float(v[i])] for c, v in cols.items() for i, u in enumerate(units)],
    )
    con.executemany(
        "insert into marts.fct_city_score_year (unit_code, year, composite) values (?, 2020, 50)", [[u] for u in units]
    )
    df = run_coherence(con)
    con.close()
    pairs = {
        (r["indicator_a"], r["indicator_b"]): r for r in df.filter(pl.col("row_type") == "pair").iter_rows(named=True)
    }
    assert pairs[("A", "B")]["flag"] == "collinear" and pairs[("A", "B")]["spearman"] == pytest.approx(1.0)
    assert pairs[("A", "C")]["flag"] == "silent" and pairs[("A", "C")]["spearman"] < SILENT_BELOW
    assert pairs[("A", "D")]["flag"] == "ok"
    assert SILENT_BELOW <= pairs[("A", "D")]["spearman"] <= COLLINEAR_ABOVE
    for r in pairs.values():
        rho = r["spearman"]
        want = "collinear" if rho > COLLINEAR_ABOVE else "silent" if rho < SILENT_BELOW else "ok"
        assert r["flag"] == want and r["n_units"] == n
    (pillar,) = df.filter(pl.col("row_type") == "pillar").iter_rows(named=True)
    assert pillar["n_units"] == n and pillar["cronbach_alpha"] is not None


@pytest.fixture(scope="module")
def ten_runs(programme):
    """Ten runs (shares are multiples of 0.1) of the synthetic programme, seeded so that the borderline units
    sit exactly at the rules seed's robust_share in many years."""
    con, _ = programme
    return float(load_rules()["GEN.robust_share"]), U.run_uncertainty(con, n_runs=10, seed=3)


@pytest.fixture(scope="module")
def at_robust_share(programme, ten_runs, tmp_path_factory):
    """The real evaluation models over those ten runs."""
    con, _ = programme
    robust_share, unc = ten_runs
    work = tmp_path_factory.mktemp("at_robust_share")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as out:
        out.execute("create schema marts; create schema raw")
        for t in (
            "dim_city",
            "dim_indicator",
            "fct_city_indicator_year",
            "fct_city_score_year",
            "fct_target_status",
            "fct_programme_unit_year",
        ):
            frame = con.sql(f"select * from marts.{t}").arrow()  # noqa: F841
            out.execute(f"create table marts.{t} as select * from frame")
        U.write_rank_uncertainty(out, unc)
    F.run_evaluation_dbt(wh, work)
    with duckdb.connect(str(wh)) as out:
        ev = out.sql("select * from marts.fct_evaluation_year").pl()
    return robust_share, unc, ev


def test_share_exactly_at_robust_share_is_robust_in_python(ten_runs):
    """share_bottom == robust_share is robust (>=, issue 18: `>` survived every test)."""
    robust_share, unc = ten_runs
    at = unc.filter(pl.col("share_bottom") == robust_share)
    assert at.height >= 5
    assert at["is_robust_bottom"].all()
    assert not unc.filter(pl.col("share_bottom") < robust_share)["is_robust_bottom"].any()
    assert unc.filter(pl.col("share_bottom") > robust_share)["is_robust_bottom"].all()
    assert (unc["robust_share"] == robust_share).all()


def test_share_exactly_at_robust_share_is_robust_in_the_marts(at_robust_share):
    """The same boundary in int_evaluation_signals_year: a W1 watch year whose share is exactly robust_share is
    a robust watch flag; one run fewer is not."""
    robust_share, _, ev = at_robust_share
    w1 = ev.filter(pl.col("fired_w1") & ~pl.col("fired_w2"))
    at = w1.filter(pl.col("share_bottom") == robust_share)
    assert at.height >= 3
    assert at["watch_robust"].all()
    assert at.filter(pl.col("stage") == "watch")["is_robust"].all()
    below = w1.filter(pl.col("share_bottom") < robust_share)
    assert below.height >= 1 and not below["watch_robust"].any()
