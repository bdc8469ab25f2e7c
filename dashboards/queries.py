"""Pure data functions over the snapshot: each takes a ``Snapshot`` (or anything with ``query``/``has``/
``cached``) and returns polars frames or plain dicts. ``None`` means the table this needs is not in the snapshot."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from pipelines.evaluation.releases import (
    LATEST_FIRST,
    RELEASED_RANKS_SQL,
    former_codes,
    released_differs,
    released_under,
)
from pipelines.labels import FLAGGED_STAGES

from .i18n import PILLAR_COLUMNS, PROVINCE_EN
from .programme_queries import THIRD_PARTY
from .snapshot import QUALITY_PREFIX

SCORES = "marts.fct_city_score_year"
DIM = "marts.dim_city"
IND = "marts.fct_city_indicator_year"
DIM_IND = "marts.dim_indicator"
EVAL = "marts.fct_evaluation_year"
CYCLE = "marts.fct_evaluation_cycle"
UNCERT = "marts.fct_rank_uncertainty"
TARGETS = "marts.fct_target_status"
ALERTS = "marts.fct_alerts"
CATALOG_VERSIONS = "marts.catalog_versions"
CHECKS = "quality.check_results"
# The runs' quality tables (CHECKS, REJECTIONS, FILES as the quality page reads them) are named after this prefix:
# a failed run's quality snapshot when one is newer than the snapshot (dashboards/snapshot.Snapshot.query)
Q = QUALITY_PREFIX
REJECTIONS = "quality.rejections_summary"
FILES = "raw.ingested_files"
ACCEPTANCE = "marts.fct_acceptance_score"
ATTRIBUTION = "marts.fct_index_change_attribution"
NATIONAL = "marts.fct_national_benchmark"
RELEASES = "releases.releases"
RELEASED_EVAL = "releases.evaluation_year"
RELEASED_CYCLE = "releases.evaluation_cycle"
RELEASED_ACCEPTANCE = "releases.acceptance_score"

# the watch list: the flagged stages, the same that get an evidence dossier
WATCH_STAGES = FLAGGED_STAGES
PILLARS = list(PILLAR_COLUMNS)

# What is real and what is generated sample data, per raw source: one definition (pipelines/data_nature.py).
from pipelines.data_nature import SOURCE_NATURE  # noqa: E402,F401


def years(snap) -> list[int]:
    if not snap.has(SCORES):
        return []
    return snap.query(f"select distinct year from {SCORES} order by year")["year"].to_list()


def resolve_year(snap, year) -> int | None:
    """The requested year if the snapshot has it, else the latest one."""
    ys = years(snap)
    if not ys:
        return None
    try:
        y = int(year) if year not in (None, "") else None
    except (TypeError, ValueError):
        y = None
    return y if y in ys else ys[-1]


def with_province_en(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        province_name_en=pl.col("province_code")
        .str.slice(0, 2)
        .replace_strict(PROVINCE_EN, default=pl.col("province_name"), return_dtype=pl.String)
    )


def with_english_names(df: pl.DataFrame) -> pl.DataFrame:
    """``unit_name_en`` as dbt defines it (int_units: pinyin, the labels seed's name for a grouping of county-level
    divisions, the province added where names repeat); the Chinese name only where the dimension has none. The
    rule lives in dbt alone, so the dashboard, the extracts and the dossiers name a unit the same way."""
    return df.with_columns(unit_name_en=pl.coalesce("unit_name_en", "unit_name"))


def units(snap) -> pl.DataFrame:
    """Every unit except provinces, with a programme flag, the province's English name and usable English names."""
    return snap.cached(
        ("units",),
        lambda: with_english_names(
            with_province_en(snap.query(f"select * from {DIM} where level <> 'province' order by unit_code"))
        ),
    )


def programme_units(snap) -> pl.DataFrame:
    """Units on the programme roster (any year, withdrawn ones included)."""
    return units(snap).filter(pl.col("is_programme").fill_null(False))


def ranked_codes(snap, year: int) -> pl.Series:
    """Programme units ranked in ``year``: the population of the programme average (index = 100)."""
    return scores_year(snap, year).filter(pl.col("is_ranked"))["unit_code"]


def provinces(snap) -> pl.DataFrame:
    return with_province_en(
        snap.query(
            f"select distinct province_code, province_name from {DIM} "
            "where province_code is not null order by province_code"
        )
    )


def catalog_version(snap, year: int | None = None) -> str | None:
    """The indicator-catalog version in force in ``year`` (latest version when no year or no mapping)."""
    if year is not None and snap.has(CATALOG_VERSIONS):
        df = snap.query(f"select catalog_version from {CATALOG_VERSIONS} where evaluation_year = ?", (int(year),))
        if df.height:
            return df["catalog_version"][0]
    df = snap.query(f"select max(catalog_version) as v from {DIM_IND}")
    return df["v"][0] if df.height else None


def indicator_catalog(snap, year: int | None = None) -> pl.DataFrame:
    """One row per indicator: the catalog version of ``year`` (the snapshot holds every version)."""
    version = catalog_version(snap, year)
    return snap.query(
        f"select * from {DIM_IND} where catalog_version = ? order by pillar_code, indicator_code", (version,)
    )


# Evaluation columns the pages show, with their type when the mart (or the column) is not there yet.
EVAL_COLUMNS: dict[str, pl.DataType] = {
    "stage": pl.String,
    "rules_fired": pl.String,
    "is_robust": pl.Boolean,
    "fired_x1": pl.Boolean,
    "fired_r1": pl.Boolean,
    "fired_r2": pl.Boolean,
    "fired_w1": pl.Boolean,
    "fired_w2": pl.Boolean,
    "fired_ex1": pl.Boolean,
    "cycle": pl.String,
    "cycle_start": pl.Int32,
    "index_change_cycle": pl.Float64,
    "targets_evaluable": pl.Int32,
    "targets_lagging": pl.Int32,
    "watch_run_years": pl.Int32,
}
UNCERT_COLUMNS: dict[str, pl.DataType] = {
    "median_rank": pl.Float64,
    "p05_rank": pl.Float64,
    "p95_rank": pl.Float64,
    "share_bottom": pl.Float64,
    "share_leader": pl.Float64,
    "share_lower_third": pl.Float64,
}


def _year_columns(snap, table: str, wanted: dict[str, pl.DataType], year: int) -> pl.DataFrame:
    """``unit_code`` plus the wanted columns of ``table`` for ``year`` (typed, empty when the table is)."""
    if not snap.has(table):  # a run without an evaluation step publishes no evaluation tables
        return pl.DataFrame(schema={"unit_code": pl.String, **wanted})
    return snap.query(f"select unit_code{''.join(', ' + c for c in wanted)} from {table} where year = ?", (year,)).cast(
        wanted
    )


def scores_year(snap, year: int) -> pl.DataFrame:
    """Every city unit's scores for ``year`` with names, province, stage and rank interval attached.

    ``is_ranked`` (from the mart): evaluated that year (on the roster, not withdrawn) and with a composite; units
    outside it keep their index and ``rank_all`` for the national map. ``on_roster``: on the programme roster.
    """

    def compute() -> pl.DataFrame:
        df = snap.query(
            f"select s.*, d.province_code, d.level, d.lng, d.lat, coalesce(d.is_programme, false) as on_roster "
            f"from {SCORES} s join {DIM} d on s.unit_code = d.unit_code where s.year = ? and d.level <> 'province'",
            (year,),
        ).join(units(snap).select("unit_code", "unit_name", "unit_name_en", "province_name"), on="unit_code")
        df = df.join(_year_columns(snap, EVAL, EVAL_COLUMNS, year), on="unit_code", how="left")
        un = _year_columns(snap, UNCERT, UNCERT_COLUMNS, year)
        # Quantiles of ranks are reals; officials read ranks as whole numbers.
        un = un.with_columns(pl.col("median_rank", "p05_rank", "p95_rank").round(0).cast(pl.Int32))
        df = df.join(un, on="unit_code", how="left")
        # tied units (equal indices share a rank, 并列) are listed in code order, which decides nothing
        return with_province_en(with_shared_ranks(df)).sort("rank", "rank_all", "unit_code", nulls_last=True)

    return snap.cached(("scores_year", year), compute)


def with_shared_ranks(df: pl.DataFrame) -> pl.DataFrame:
    """``rank_is_shared`` / ``rank_all_is_shared`` (fct_city_score_year: another unit of the year holds the same
    rank, 并列) for one year's rows; computed from the ranks for snapshots published before the mart had them."""
    for rank_col in ("rank", "rank_all"):
        flag = f"{rank_col}_is_shared"
        if flag not in df.columns and rank_col in df.columns:
            df = df.with_columns(
                pl.when(pl.col(rank_col).is_not_null())
                .then(pl.len().over(rank_col) > 1)
                .otherwise(pl.lit(None, pl.Boolean))
                .alias(flag)
            )
    return df


def overview_headlines(snap, year: int, provinces=None) -> dict:
    """The overview's cards. ``provinces`` (an account's province scope; None = national): the flagged cities are
    counted in it only, as the watchlist lists them (a provincial office read "2 exit candidates" on the overview,
    then an empty watchlist of its own province, and a stage outside its scope is not published to it)."""
    df = scores_year(snap, year)
    prog = df.filter(pl.col("is_ranked"))
    flagged = prog if provinces is None else prog.filter(pl.col("province_code").is_in(list(provinces)))
    stages = flagged["stage"].value_counts() if "stage" in flagged.columns else None
    counts = dict(zip(stages["stage"].to_list(), stages["count"].to_list())) if stages is not None else {}
    has_eval = snap.has(EVAL)
    return {
        "year": year,
        "programme_units": prog.height,
        "ranked_units": df.height,
        "median_index": float(prog["composite_index"].median()) if prog.height else None,
        "leaders": int((prog["performance_group"] == "leader").sum()),
        "on_watch": (counts.get("watch", 0) + counts.get("rectification", 0)) if has_eval else None,
        "exit_candidates": counts.get("exit_candidate", 0) if has_eval else None,
        "moved_up": int((prog["rank_change"].fill_null(0) > 0).sum()),
    }


def index_colour_range(snap) -> tuple[float, float] | None:
    """The index map's colour range: the programme cities' composite index over every year of the snapshot,
    widened to whole tens. One range for all years, so a colour means the same index in 2019 and in 2025 (per
    year, a city of the same index changed colour from one year to the next). None with no ranked city."""

    def compute():
        row = snap.query(f"select min(composite_index) as lo, max(composite_index) as hi from {SCORES} where is_ranked")
        lo, hi = row["lo"][0], row["hi"][0]
        if lo is None or hi is None:
            return None
        return float(math.floor(lo / 10) * 10), float(max(math.ceil(hi / 10) * 10, math.floor(lo / 10) * 10 + 10))

    return snap.cached(("index_colour_range",), compute)


def map_points(snap, year: int) -> pl.DataFrame:
    """Units with coordinates; non-programme units get group ``None`` (drawn grey)."""
    return (
        scores_year(snap, year)
        .filter(pl.col("lng").is_not_null() & pl.col("lat").is_not_null())
        .select(
            "unit_code",
            "unit_name",
            "unit_name_en",
            "province_code",  # the account's scope is applied to it (access.published_units)
            "province_name",
            "lng",
            "lat",
            "composite_index",
            "rank",
            "rank_is_shared",
            "is_ranked",
            group=pl.when(pl.col("is_ranked")).then(pl.col("performance_group")).otherwise(pl.lit(None)),
        )
    )


def composite_distribution(snap, year: int) -> pl.DataFrame:
    return (
        scores_year(snap, year)
        .filter(pl.col("is_ranked"))
        .select("unit_code", "unit_name", "unit_name_en", "composite_index", "performance_group")
    )


def biggest_movers(snap, year: int, n: int = 8) -> pl.DataFrame:
    """The ``n`` programme units that climbed most and the ``n`` that fell most (positive = moved up)."""
    df = scores_year(snap, year).filter(pl.col("is_ranked") & pl.col("rank_change").is_not_null())
    up = _top_with_ties(df.filter(pl.col("rank_change") > 0), "rank_change", n, descending=True)
    down = _top_with_ties(df.filter(pl.col("rank_change") < 0), "rank_change", n, descending=False)
    return (
        pl.concat([up, down])
        .select(
            "unit_code",
            "unit_name",
            "unit_name_en",
            "province_code",
            "rank",
            "rank_is_shared",
            "rank_change",
            "index_change",
            "stage",
        )
        .sort("rank_change")
    )


def _top_with_ties(df: pl.DataFrame, col: str, n: int, descending: bool) -> pl.DataFrame:
    """The ``n`` first rows by ``col`` and every row tied with the n-th (a list cut inside a tie would show one of
    two cities that moved alike and drop the other by its code)."""
    df = df.sort(col, "unit_code", descending=[descending, False])
    if df.height <= n:
        return df
    cut = df[col][n - 1]
    return df.filter(pl.col(col) >= cut if descending else pl.col(col) <= cut)


def rankings(snap, year: int, programme_only: bool = True) -> pl.DataFrame:
    """Ranked programme units (or every city with a score when ``programme_only`` is false), best first."""
    return snap.cached(("rankings", year, programme_only), lambda: _rankings(snap, year, programme_only))


def _rankings(snap, year: int, programme_only: bool) -> pl.DataFrame:
    df = scores_year(snap, year)
    if programme_only:
        df = df.filter(pl.col("is_ranked"))
    else:
        df = df.filter(pl.col("composite").is_not_null()).sort("rank_all", "unit_code", nulls_last=True)
    return df.select(
        "unit_code",
        "unit_name",
        "unit_name_en",
        "province_code",
        "province_name",
        "province_name_en",
        "performance_group",
        "performance_group_all",
        "is_ranked",
        "on_roster",
        "stage",
        "is_robust",
        "composite",
        "composite_index",
        *PILLAR_COLUMNS.values(),
        "rank",
        "n_ranked",
        "rank_is_shared",
        "rank_all",
        "rank_all_is_shared",
        "median_rank",
        "p05_rank",
        "p95_rank",
        "share_bottom",
        "rank_change",
        "index_change",
    )


def pillar_scores(snap, year: int, unit_codes: list[str]) -> pl.DataFrame:
    """Pillar scores of the chosen units plus the programme average as unit_code ``None``."""
    df = scores_year(snap, year)
    cols = list(PILLAR_COLUMNS.values())
    chosen = df.filter(pl.col("unit_code").is_in(unit_codes)).select("unit_code", "unit_name", "unit_name_en", *cols)

    def average() -> pl.DataFrame:  # the same for every comparison of the year
        return (
            df.filter(pl.col("is_ranked"))
            .select([pl.col(c).mean() for c in cols])
            .with_columns(
                unit_code=pl.lit(None, pl.String),
                unit_name=pl.lit("示范城市平均"),
                unit_name_en=pl.lit("Programme average"),
            )
            .select(chosen.columns)
        )

    return pl.concat([chosen, snap.cached(("pillar_average", year), average)], how="vertical_relaxed")


def indicator_trend(snap, unit_codes: list[str], indicator_code: str) -> pl.DataFrame:
    def every_unit() -> pl.DataFrame:  # joined and sorted once per indicator; a comparison only filters it
        ind = snap.query(
            f"select unit_code, year, value, raw_value, is_imputed, normalised_score from {IND} "
            "where indicator_code = ?",
            (indicator_code,),
        )
        names = units(snap).select("unit_code", "unit_name", "unit_name_en")
        return ind.join(names, on="unit_code").sort("unit_code", "year")

    return snap.cached(("indicator_trend", indicator_code), every_unit).filter(pl.col("unit_code").is_in(unit_codes))


def indicator_year(snap, year: int) -> pl.DataFrame:
    return snap.query(
        f"select unit_code, indicator_code, catalog_version, value, raw_value, is_imputed, "
        f"is_missing, normalised_score from {IND} where year = ?",
        (year,),
    )


def programme_indicator_average(snap, year: int) -> pl.DataFrame:
    """Mean normalised score per indicator over the units ranked in ``year``."""

    def compute() -> pl.DataFrame:
        prog = ranked_codes(snap, year)
        return (
            indicator_year(snap, year)
            .filter(pl.col("unit_code").is_in(prog.implode()))
            .group_by("indicator_code")
            .agg(programme_avg=pl.col("normalised_score").mean())
        )

    return snap.cached(("programme_indicator_average", year), compute)


def strengths_weaknesses(snap, year: int, unit_codes: list[str], k: int = 3) -> pl.DataFrame:
    """Per unit, the ``k`` indicators furthest above and below the programme average of normalised scores.

    Computed once per year for every unit (a unit's list does not depend on the others picked), so a new choice
    of cities only filters: comparisons are the one view that cannot be precomputed per choice."""
    every_unit = snap.cached(("strengths_weaknesses", year, k), lambda: _strengths_weaknesses(snap, year, k))
    return every_unit.filter(pl.col("unit_code").is_in(unit_codes))


def _score_differences(snap, year: int) -> pl.DataFrame:
    """Normalised score minus the programme average, every unit × indicator of ``year``."""

    def compute() -> pl.DataFrame:
        return (
            indicator_year(snap, year)
            .join(programme_indicator_average(snap, year), on="indicator_code")
            .with_columns(diff=pl.col("normalised_score") - pl.col("programme_avg"))
        )

    return snap.cached(("score_differences", year), compute)


def _strengths_weaknesses(snap, year: int, k: int) -> pl.DataFrame:
    diff = _score_differences(snap, year).drop_nulls("diff")
    # A strength is above the average and a weakness below it: a leading city may have no weaknesses.
    top = (
        diff.filter(pl.col("diff") > 0)
        .sort("diff", descending=True)
        .group_by("unit_code", maintain_order=True)
        .head(k)
        .with_columns(kind=pl.lit("strength"))
    )
    bottom = (
        diff.filter(pl.col("diff") < 0)
        .sort("diff")
        .group_by("unit_code", maintain_order=True)
        .head(k)
        .with_columns(kind=pl.lit("weakness"))
    )
    cat = indicator_catalog(snap, year).select("indicator_code", "name_zh", "name_en", "pillar_code")
    return (
        pl.concat([top, bottom])
        .join(cat, on="indicator_code", how="left")
        .select(
            "unit_code",
            "kind",
            "indicator_code",
            "name_zh",
            "name_en",
            "pillar_code",
            "normalised_score",
            "programme_avg",
            "diff",
        )
    )


def score_matrix(snap, year: int, unit_codes: list[str]) -> pl.DataFrame:
    """Normalised score minus programme average, unit × indicator (for a heatmap)."""
    every_unit = snap.cached(
        ("score_matrix", year), lambda: _score_differences(snap, year).select("unit_code", "indicator_code", "diff")
    )
    return every_unit.filter(pl.col("unit_code").is_in(unit_codes))


def score_difference_extent(snap, year: int) -> float | None:
    """The compare heatmap's colour range for ``year``: the largest distance from the programme average of any
    unit's score on any indicator, rounded up to ten (one symmetric scale, ±extent). The same for every choice of
    cities, as the map's is for every year: fitted to the cities picked, one pair's range was twice the next's and
    one colour meant two differences. None when the year has no scores."""

    def compute():
        diffs = _score_differences(snap, year)["diff"].drop_nulls().drop_nans()
        if not diffs.len():
            return None
        return float(max(10, 10 * math.ceil(float(diffs.abs().max()) / 10)))

    return snap.cached(("score_difference_extent", year), compute)


def side_by_side(snap, year: int, unit_codes: list[str]) -> pl.DataFrame:
    """One row per unit with composite, pillars, rank, group and stage, in the order the units were picked."""
    order = {c: i for i, c in enumerate(unit_codes)}
    return (
        rankings(snap, year, programme_only=False)
        .filter(pl.col("unit_code").is_in(unit_codes))
        .with_columns(_order=pl.col("unit_code").replace_strict(order, default=len(order)))
        .sort("_order")
        .drop("_order")
    )


def profile_indicators(snap, unit_code: str) -> pl.DataFrame:
    # is_outlier / capped_value: the score of an outlier is computed from the capped value, which the profile says
    # beside the value (snapshots without the columns: nothing to say)
    have = set(
        snap.query(
            "select column_name from information_schema.columns where table_schema || '.' || table_name = ?", (IND,)
        )["column_name"].to_list()
    )
    capped = ", is_outlier, capped_value" if {"is_outlier", "capped_value"} <= have else ""
    return snap.query(
        f"select year, indicator_code, value, raw_value, is_imputed, is_missing, normalised_score{capped} "
        f"from {IND} where unit_code = ? order by indicator_code, year",
        (unit_code,),
    )


def profile_targets(snap, unit_code: str) -> pl.DataFrame | None:
    if not snap.has(TARGETS):
        return None
    return snap.query(f"select * from {TARGETS} where unit_code = ? order by plan_id, indicator_code", (unit_code,))


def programme_target_status(snap) -> pl.DataFrame | None:
    """Every construction-plan target of the roster's units with its latest status (programme-wide view)."""
    if not snap.has(TARGETS):
        return None
    return snap.cached(
        ("programme_target_status",),
        lambda: snap.query(
            f"select t.unit_code, t.plan_id, t.indicator_code, t.baseline_year, t.baseline_value, t.target_year, "
            f"t.target_value, t.current_year, "
            f"t.current_value, t.progress_index, t.status from {TARGETS} t join {DIM} d on d.unit_code = t.unit_code "
            "where coalesce(d.is_programme, false) order by t.unit_code, t.plan_id, t.indicator_code"
        ),
    )


def profile_scores(snap, unit_code: str) -> pl.DataFrame:
    return snap.query(f"select * from {SCORES} where unit_code = ? order by year", (unit_code,))


def profile_stages(snap, unit_code: str) -> pl.DataFrame | None:
    if not snap.has(EVAL):
        return None
    cols = ", ".join(
        [
            "year",
            "stage",
            "rules_fired",
            "is_robust",
            *[c for c in EVAL_COLUMNS if c.startswith("fired_")],
            "performance_group",
            "rank",
            "n_ranked",
            "cycle_start",
            "index_change_cycle",
            "targets_evaluable",
            "targets_lagging",
            "watch_run_years",
            "median_rank",
            "p05_rank",
            "p95_rank",
            "share_bottom",
        ],
    )
    return snap.query(f"select {cols} from {EVAL} where unit_code = ? order by year desc", (unit_code,))


def profile_cycles(snap, unit_code: str) -> pl.DataFrame | None:
    if not snap.has(CYCLE):
        return None
    have = set(
        snap.query(
            "select column_name from information_schema.columns where table_schema || '.' || table_name = ?",
            (CYCLE,),
        )["column_name"].to_list()
    )
    cols = ", ".join(
        [
            "cycle",
            "cycle_start",
            "cycle_end",
            "verdict",
            "evidence",
            "is_robust",
            "is_complete",
            # the year the verdict is given in, null while the cycle runs (a cut-short cycle is judged)
            "judged_year",
            "index_change",
            "verdict_status",
            "third_party_status",
            "third_party_score",
            # what judged the cycle: the rules and group of each year and of the verdict (snapshots published
            # before the mart named them lack the last two: the profile then says what the others tell)
            *(c for c in ("end_group", "rules_versions", "verdict_rules_version", "performance_groups") if c in have),
        ]
    )
    return snap.query(f"select {cols} from {CYCLE} where unit_code = ? order by cycle_start", (unit_code,))


def profile_alerts(snap, unit_code: str) -> pl.DataFrame | None:
    if not snap.has(ALERTS):
        return None
    cols = ", ".join(
        ["year", "alert_type", "status", "plan_id", "indicator_code", "progress_index", "message", "created_at"],
    )
    if "title_en" in snap.query(f"select * from {ALERTS} limit 0").columns:
        cols += ", title_en"  # the English title (mirrors written before it existed lack the column)
    return snap.query(
        f"select {cols} from {ALERTS} where unit_code = ? order by year desc, created_at desc", (unit_code,)
    )


def unit_info(snap, unit_code: str) -> dict | None:
    row = units(snap).filter(pl.col("unit_code") == unit_code)
    return row.to_dicts()[0] if row.height else None


def watchlist(snap, year: int, dossier_dir: Path | None = None) -> pl.DataFrame | None:
    """Programme units on watch, in rectification or exit candidates, worst stage first, with dossier files."""
    if not snap.has(EVAL):
        return None
    severity = {"not_reported": 0, "exit_candidate": 1, "rectification": 2, "review": 3, "watch": 4}
    df = (
        scores_year(snap, year)
        .filter(pl.col("stage").is_in(WATCH_STAGES))
        .with_columns(_sev=pl.col("stage").replace_strict(severity, default=9))
        .sort("_sev", "rank", "unit_code", nulls_last=True)
        .drop("_sev")
    )

    def dossier(code: str, ext: str) -> str | None:
        name = f"{code}_{year}.{ext}"
        return name if dossier_dir is not None and (Path(dossier_dir) / name).is_file() else None

    codes = df["unit_code"].to_list()
    return df.select(
        "unit_code",
        "unit_name",
        "unit_name_en",
        "province_name",
        "province_name_en",
        "stage",
        "rules_fired",
        *[c for c in EVAL_COLUMNS if c.startswith("fired_")],
        "is_robust",
        "share_bottom",
        "targets_evaluable",
        "targets_lagging",
        "watch_run_years",
        "cycle_start",
        "index_change_cycle",
        "performance_group",
        "composite_index",
        "rank",
        "n_ranked",
        "rank_is_shared",
        "p05_rank",
        "p95_rank",
    ).with_columns(
        dossier_html=pl.Series([dossier(c, "html") for c in codes], dtype=pl.String),
        dossier_md=pl.Series([dossier(c, "md") for c in codes], dtype=pl.String),
    )


def quality_runs(snap) -> pl.DataFrame | None:
    if not snap.has(FILES):
        return None
    return snap.query(
        f"select run_id, min(ingested_at) as started, count(*) as files, sum(rows_read) as rows_read, "
        f"sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected from {Q}{FILES} "
        "group by run_id order by started desc nulls last limit 10",
        quality=True,
    )


def latest_run_id(snap) -> str | None:
    for table, col in ((CHECKS, "checked_at"), (FILES, "ingested_at")):
        if snap.has(table):
            df = snap.query(f"select run_id from {Q}{table} order by {col} desc nulls last limit 1", quality=True)
            if df.height:
                return df["run_id"][0]
    return None


def _check_results(snap) -> str:
    """The published check results with every column the page reads (a snapshot from before dbt's results were
    recorded: all GX's, without the engine and failing-row columns)."""
    from pipelines.quality.results import CHECK_RESULTS_COLUMNS_SQL, check_results_select

    have = set(snap.query(CHECK_RESULTS_COLUMNS_SQL)["column_name"].to_list())
    return check_results_select(have, table=f"{Q}{CHECKS}")


def quality_checks(snap, run_id: str | None = None) -> pl.DataFrame | None:
    """A run's checks, Great Expectations' and dbt's alike (engine), failures first."""
    if not snap.has(CHECKS):
        return None
    run_id = run_id or latest_run_id(snap)
    return snap.query(
        f"select check_name, asset, partition, severity, passed, observed_value, expectation, checked_at, engine, "
        f"column_names, rule, failing_rows, failing_sample from ({_check_results(snap)}) as results where run_id = ? "
        "order by passed, severity, engine, check_name",
        (run_id,),
        quality=True,
    )


def quality_history(snap) -> pl.DataFrame | None:
    """Each check across the last runs (pipelines/quality/results.HISTORY_SQL, as `ipcity quality --history`)."""
    from pipelines.quality.results import HISTORY_RUNS, HISTORY_SQL

    if not snap.has(CHECKS):
        return None
    return snap.query(HISTORY_SQL.format(results=_check_results(snap)), (HISTORY_RUNS,), quality=True)


def quality_rejections(snap, run_id: str | None = None) -> pl.DataFrame | None:
    if not snap.has(REJECTIONS):
        return None
    run_id = run_id or latest_run_id(snap)
    return snap.query(
        f"select source, reason_code, reason, sum(rows) as rows from {Q}{REJECTIONS} where run_id = ? "
        "group by source, reason_code, reason order by rows desc nulls last",
        (run_id,),
        quality=True,
    )


def refused_files(snap) -> pl.DataFrame | None:
    """Landing files whose latest attempt was refused whole (ledger status 'failed'), as the
    landing_file_refused alert lists them: still refused until a later version loads, whichever run it was."""
    if not snap.has(FILES):
        return None
    return snap.query(
        "select source, file_name, message, ingested_at from (select *, row_number() over (partition by source, "
        f"file_name order by ingested_at desc nulls last) as recency from {Q}{FILES}) "
        "where recency = 1 and status = 'failed' order by source, file_name",
        quality=True,
    )


def noted_files(snap, run_id: str | None = None) -> pl.DataFrame | None:
    """Files a run loaded with the loader's notes on them (hidden rows read, breakdown rows set aside, units
    converted...): the ledger's message of each loaded file that has one."""
    if not snap.has(FILES):
        return None
    run_id = run_id or latest_run_id(snap)
    return snap.query(
        f"select source, file_name, message from {Q}{FILES} where run_id = ? and status = 'loaded' "
        "and coalesce(message, '') <> '' order by source, file_name",
        (run_id,),
        quality=True,
    )


def quality_sources(snap, run_id: str | None = None) -> pl.DataFrame | None:
    """Per source in a run: files, rows read, loaded and quarantined (from the ingestion ledger)."""
    if not snap.has(FILES):
        return None
    run_id = run_id or latest_run_id(snap)
    return snap.query(
        f"select source, count(*) as files, sum(rows_read) as rows_read, sum(rows_loaded) as "
        f"rows_loaded, sum(rows_rejected) as rows_rejected from {Q}{FILES} where run_id = ? "
        "group by source order by source",
        (run_id,),
        quality=True,
    )


def quality_summary(checks: pl.DataFrame | None, sources: pl.DataFrame | None) -> dict:
    """Headline counts of a run: checks run and failed by severity, rows loaded and quarantined."""
    out = {"checks": None, "failed_error": None, "failed_warn": None, "rows_loaded": None, "rows_rejected": None}
    if checks is not None:
        failed = checks.filter(~pl.col("passed").fill_null(False))
        out |= {
            "checks": checks.height,
            "failed_error": int((failed["severity"] == "error").sum()),
            "failed_warn": int((failed["severity"] != "error").sum()),
        }
    if sources is not None:
        out |= {
            "rows_loaded": int(sources["rows_loaded"].sum() or 0),
            "rows_rejected": int(sources["rows_rejected"].sum() or 0),
        }
    return out


# -- acceptance score, releases, change attribution, national benchmark (issue 10) ------------------------------


def profile_acceptance(snap, unit_code: str) -> pl.DataFrame | None:
    """Acceptance score and band per cycle of the unit (absolute 0-100), oldest cycle first, with its parts: the
    indicator-based score, the third-party score (evaluator, version) and the status (combined or pending)."""
    if not snap.has(ACCEPTANCE):
        return None
    have = _columns(snap, ACCEPTANCE)
    cols = ", ".join(
        [
            "cycle",
            "cycle_first_year",
            "cycle_last_year",
            "judged_year",
            "acceptance_status",
            "indicator_score",
            "third_party_status",
            "third_party_score",
            "third_party_weight",
            "third_party_evaluator",
            "third_party_report_version",
            "acceptance_score",
            "acceptance_scored",
            "acceptance_band",
            "target_points",
            "level_points",
            "benchmark_year",
            # the level part's lag, from two columns every published snapshot has (fct_acceptance_score's
            # benchmark_lag_years is the same difference)
            "scored_year - benchmark_year as benchmark_lag_years",
            "is_complete",
            # the level figures and which of them are carried forward (imputed); null on a snapshot without them
            *(
                c if c in have else f"cast(null as varchar) as {c}"
                for c in ("level_detail", "level_indicators_imputed")
            ),
            # a title removed: the end of the re-application ban and a joining inside it; null on an older snapshot
            *(
                c if c in have else f"cast(null as {t}) as {c}"
                for c, t in (("reapply_ban_until", "date"), ("rejoined_on", "date"), ("rejoined_within_ban", "boolean"))
            ),
            # the pilot round judged (第N轮试点) and the office's rule on a second new-pilot-round score
            *(
                c if c in have else f"cast(null as {t}) as {c}"
                for c, t in (
                    ("pilot_round", "integer"),
                    ("max_pilot_rounds", "integer"),
                    ("pilot_rounds_exhausted", "boolean"),
                )
            ),
        ]
    )
    # the third-party report behind the cycle's score loaded twice with different scores (one row per unit and
    # cycle in fct_third_party_evaluation): the profile marks it as the programmes page and the dossier do; null on
    # a snapshot published before the mart had the column
    conflict = "cast(null as boolean)"
    if snap.has(THIRD_PARTY) and "report_conflict" in _columns(snap, THIRD_PARTY):
        conflict = (
            f"(select tp.report_conflict from {THIRD_PARTY} as tp "
            "where tp.unit_code = a.unit_code and tp.cycle = a.cycle)"
        )
    return snap.query(
        f"select {cols}, {conflict} as report_conflict from {ACCEPTANCE} as a where a.unit_code = ? "
        "order by a.cycle_first_year",
        (unit_code,),
    )


def _columns(snap, table: str) -> set[str]:
    """The columns a published table has (an older snapshot may lack a newer column)."""
    return set(
        snap.query(
            "select column_name from information_schema.columns where table_schema || '.' || table_name = ?",
            (table,),
        )["column_name"].to_list()
    )


def profile_attribution(snap, unit_code: str) -> pl.DataFrame | None:
    """Per year, the index change since the previous year and its exact parts (they sum to the change)."""
    if not snap.has(ATTRIBUTION):
        return None
    return snap.query(
        f"select year, index_change, part_indicators, part_catalog, part_rescaling, part_revision, part_mgt, "
        f"part_pro, part_utl, part_qlt, part_env, previous_release_id from {ATTRIBUTION} where unit_code = ? "
        "order by year",
        (unit_code,),
    )


def latest_release_year(snap) -> int | None:
    """The latest evaluation year that has a release, or None."""
    if not snap.has(RELEASES):
        return None
    df = snap.query(f"select max(evaluation_year) as y from {RELEASES}")
    return int(df["y"][0]) if df.height and df["y"][0] is not None else None


def release_status(snap, unit_code: str, year: int) -> dict | None:
    """The latest release of ``year`` (id, versions) with the unit's as-released stage and index, and whether
    the current marts now differ from it; None when the year has not been released."""
    if not (snap.has(RELEASES) and snap.has(RELEASED_EVAL)):
        return None
    rel = snap.query(
        f"select * from {RELEASES} where evaluation_year = ? order by {LATEST_FIRST} limit 1", (int(year),)
    )
    if not rel.height:
        return None
    out = rel.row(0, named=True)
    # the unit's code, then the codes it replaced (seed unit_code_changes): a city recoded since the release finds
    # its released verdict under the code it was released under (releases.released_under), and the text says so
    candidates = [unit_code, *(c for c, _ in former_codes(unit_code))]
    rows = snap.query(
        f"select unit_code, stage, composite_index, rank, n_ranked, is_robust from {RELEASED_EVAL} "
        f"where release_id = ? and unit_code in ({', '.join('?' * len(candidates))})",
        (out["release_id"], *candidates),
    )
    released = released_under({r["unit_code"]: r for r in rows.iter_rows(named=True)}, unit_code)
    released_code = released.pop("unit_code") if released is not None else unit_code
    if released is not None and snap.has("releases.city_score_year"):
        # the released rank's tie from the release's own ranks (releases.RELEASED_RANKS_SQL), as the dossier reads it
        tie = snap.query(
            f"select rank_is_shared from ({RELEASED_RANKS_SQL}) where release_id = ? and unit_code = ? and rank = ?",
            (out["release_id"], released_code, released["rank"]),
        )
        released["rank_is_shared"] = bool(tie["rank_is_shared"][0]) if tie.height else None
    current = None
    if snap.has(EVAL):
        # with n_ranked and the tie: the profile words old → new as the alert and the dossier do
        # (releases.release_verdict_text); a snapshot built before rank_is_shared reads no tie
        tie = (
            "rank_is_shared" if "rank_is_shared" in _columns(snap, EVAL) else "cast(null as boolean) as rank_is_shared"
        )
        cur = snap.query(
            f"select stage, composite_index, rank, n_ranked, {tie} from {EVAL} where unit_code = ? and year = ?",
            (unit_code, int(year)),
        )
        current = cur.row(0, named=True) if cur.height else None
    differs = released_differs(released, current)
    cycle = released_cycle = None
    if snap.has(RELEASED_CYCLE) and snap.has(CYCLE):
        # the cycle verdict as released and the current verdict of that cycle: data corrected after publication can
        # move it, and the profile shows old → new (releases.cycle_revision_text) as the dossier and extracts do
        rc = snap.query(
            f"select cycle_start, verdict, verdict_status from {RELEASED_CYCLE} where release_id = ? and unit_code = ?",
            (out["release_id"], released_code),
        )
        released_cycle = rc.row(0, named=True) if rc.height else None
        if released_cycle is not None:
            cur = snap.query(
                f"select cycle_start, verdict, verdict_status from {CYCLE} where unit_code = ? and cycle_start = ?",
                (unit_code, released_cycle["cycle_start"]),
            )
            cycle = cur.row(0, named=True) if cur.height else None
    released_acceptance = current_acceptance = None
    if snap.has(RELEASED_ACCEPTANCE) and snap.has(ACCEPTANCE):
        # the acceptance score and band as released (the cycle of the released year) and the current ones of that
        # cycle: the profile showed the live score only, which a revised file can move across a band after the
        # release -- a city read a score it was not judged on (releases.release_acceptance_text words both)
        ra = snap.query(
            f"select * from {RELEASED_ACCEPTANCE} where release_id = ? and unit_code = ?",
            (out["release_id"], released_code),
        )
        if ra.height:
            released_acceptance = ra.row(0, named=True)
            if released is not None and released.get("released_unit_code"):
                released_acceptance |= {k: released[k] for k in ("released_unit_code", "released_unit_name")}
            cur = snap.query(
                f"select * from {ACCEPTANCE} where unit_code = ? and cycle = ?",
                (unit_code, released_acceptance.get("cycle")),
            )
            current_acceptance = cur.row(0, named=True) if cur.height else None
    return {
        **out,
        "released": released,
        "current": current,
        "differs": differs,
        "released_cycle": released_cycle,
        "current_cycle": cycle,
        "released_acceptance": released_acceptance,
        "current_acceptance": current_acceptance,
    }


def national_benchmarks(snap) -> pl.DataFrame | None:
    """The national unit 000000's series of every indicator it has (reference lines on the profile)."""
    if not snap.has(NATIONAL):
        return None
    return snap.cached(
        ("national_benchmarks",),
        lambda: snap.query(f"select indicator_code, year, value from {NATIONAL} order by indicator_code, year"),
    )


def national_benchmark(snap, indicator_code: str) -> pl.DataFrame | None:
    """The national unit 000000's series of one indicator (reference line), from the statistics path."""
    if not snap.has(NATIONAL):
        return None
    return snap.query(f"select year, value from {NATIONAL} where indicator_code = ? order by year", (indicator_code,))
