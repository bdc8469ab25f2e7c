"""Evaluation releases: the annual evaluation of year Y published as an immutable record (issue 10).

A city can lose its title on what is published, so a published verdict must never move afterwards. A release
stores, in schema ``releases`` of the warehouse (copied into the published snapshot):

- ``releases.releases``: one row per release -- release id, evaluation year, data version (hash of the
  ledger's file hashes and row counts of every loaded file that can hold year <= Y), catalog version, rules
  version, code version (git sha), Monte Carlo seed, evaluation window, time, the release it supersedes and why;
- ``releases.city_score_year`` / ``releases.indicator_year`` / ``releases.evaluation_year`` /
  ``releases.evaluation_cycle`` / ``releases.acceptance_score``: the released rows of year Y (scores, ranks,
  stages, verdicts), keyed by release id. They are written once and never updated;
- ``releases.restatement_diff``: for a restatement (a new release of the same year), which cities' figures
  and verdicts changed, old and new value, and why (own data revised / peers' data moved the scale).

Frozen normalisation: min-max bounds and the programme mean depend on the evaluation window (and whether a
unit "appears in a source" depends on all its data), so year Y is
always computed on the window ending at Y. When the warehouse already holds later years, the release rebuilds
the marts in a scratch copy with ``evaluation_last_year = Y`` (dbt var), reruns the uncertainty step with the
same seed and the evaluation models, and releases those rows. Loading a later year therefore never re-scores
a released year; a re-release with the same content is a no-op, a changed content is a restatement.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl

from pipelines import settings
from pipelines.china_time import utc_now
from pipelines.evaluation.rules import acceptance_score_text, rules_version_of
from pipelines.labels import index_text
from pipelines.private_files import private_duckdb

SCHEMA = "releases"
DEFAULT_MC_SEED = 20160086
DEFAULT_MC_RUNS = 1000

# THE CYCLE OF YEAR Y (the cycle verdict and acceptance score "of year Y", methodology §10): the cycle the unit's
# programme calendar assigns to (unit, Y) -- fct_programme_unit_year.cycle_start, the cycle of the unit's
# fct_evaluation_year row of Y. Two cycles can hold Y by their labels: 南京 320100 has the strong-city cycle
# 2022-2024 (judged 2024) and, from 2025, its demonstration-city cycle 2023-2025; 南通 320600 the pilot cycle
# 2022-2024 (judged 2023, then promoted) and 2024-2026. Year 2024 is judged on 2022-2024 for 南京 and on 2024-2026
# for 南通: the calendar governing the year decides, never the latest or the earliest label. Only a year without
# a calendar row (the year of a withdrawal) falls back to the latest cycle holding it. Release, dossier,
# extract and profile all read it here (cycle_of_year_sql / cycle_of_year).
CALENDAR = "marts.fct_programme_unit_year"


def cycle_of_year_sql(first: str, last: str, rel: str, table: str, year: str = "{y}") -> str:
    """A where clause on ``table`` (the name or alias of ``rel`` in the query; cycle columns ``first`` / ``last``)
    that keeps, per unit, the cycle of year ``year`` (see CALENDAR above)."""
    holding = f"h.unit_code = {table}.unit_code and h.{first} <= {year} and h.{last} >= {year}"
    return (
        f"{table}.{first} <= {year} and {table}.{last} >= {year} and {table}.{first} = coalesce("
        f"(select max(p.cycle_start) from {CALENDAR} p where p.unit_code = {table}.unit_code and p.year = {year} "
        f"and exists (select 1 from {rel} h where {holding} and h.{first} = p.cycle_start)), "
        f"(select max(h.{first}) from {rel} h where {holding}))"
    )


def cycle_of_year(
    cycles: pl.DataFrame,
    year: int,
    calendar_start: int | None,
    first: str = "cycle_first_year",
    last: str = "cycle_last_year",
) -> dict | None:
    """The row of ``cycles`` (one unit's) that is the cycle of ``year``: the one starting at ``calendar_start``
    (the unit-year's fct_programme_unit_year.cycle_start / fct_evaluation_year.cycle_start) when it holds the
    year, else the latest cycle holding it -- cycle_of_year_sql in Python, for readers holding the frame."""
    holding = cycles.filter((pl.col(first) <= year) & (pl.col(last) >= year)).sort(first)
    if not holding.height:
        return None
    governed = holding.filter(pl.col(first) == calendar_start) if calendar_start is not None else holding.clear()
    return (governed if governed.height else holding).row(-1, named=True)


RELEASED = {
    "city_score_year": ("marts.fct_city_score_year", "year = {y}", ["unit_code"]),
    # cities only: provinces are normalised over the years of the province statistics, a window of their own
    "indicator_year": (
        "marts.fct_city_indicator_year",
        "year = {y} and peer_group = 'city'",
        ["unit_code", "indicator_code"],
    ),
    "evaluation_year": ("marts.fct_evaluation_year", "year = {y}", ["unit_code"]),
    "evaluation_cycle": (
        "marts.fct_evaluation_cycle",
        cycle_of_year_sql("cycle_start", "cycle_end", "marts.fct_evaluation_cycle", "fct_evaluation_cycle"),
        ["unit_code"],
    ),
    "acceptance_score": (
        "marts.fct_acceptance_score",
        cycle_of_year_sql("cycle_first_year", "cycle_last_year", "marts.fct_acceptance_score", "fct_acceptance_score"),
        ["unit_code"],
    ),
}
# Figures a restatement diff compares, per released table.
DIFF_FIELDS = {
    "evaluation_year": ["composite_index", "rank", "performance_group", "stage", "is_robust"],
    "evaluation_cycle": ["verdict", "verdict_status", "index_change"],
    "acceptance_score": ["acceptance_score", "acceptance_band"],
}
# Figures a diff compares and writes as a city reads them (the index and its change at GEN.index_decimals, the
# acceptance score cut at two decimals): a city whose shown figures did not move is not named as changed, and
# the old and new values are the ones its published verdicts show, never 9 significant figures no reader sees.
DIFF_SHOWN = {"composite_index": index_text, "index_change": index_text, "acceptance_score": acceptance_score_text}


def _add_new_columns(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """A mart that gained columns since the first release (e.g. the third-party parts of the acceptance score):
    add them to the released table, null in the earlier releases (they did not have them), so releases keep
    being written and no released value changes."""
    have = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [SCHEMA, name],
        ).fetchall()
    }
    for column, column_type, *_ in con.sql("describe select * from frame").fetchall():  # frame: DuckDB reads it
        if column not in have:
            con.execute(f'alter table {SCHEMA}.{name} add column "{column}" {column_type}')


RELEASES_DDL = f"""
create table if not exists {SCHEMA}.releases (
  release_id varchar, evaluation_year integer, data_version varchar, catalog_version varchar,
  rules_version varchar, code_version varchar, mc_seed bigint, window_first_year integer,
  window_last_year integer, released_at timestamp, supersedes_release_id varchar, content_hash varchar,
  n_units integer, restatement_reason varchar, data_files varchar, rules_content varchar
)"""
# rules_content (added after the first releases: null in those, "not recorded"): what judged the release -- per rules
# version in force in a year of its window, a hash of that version's rows of the rules seed (rules_content_of).
DIFF_DDL = f"""
create table if not exists {SCHEMA}.restatement_diff (
  release_id varchar, supersedes_release_id varchar, evaluation_year integer, unit_code varchar,
  unit_name varchar, released_table varchar, field varchar, old_value varchar, new_value varchar, reason varchar
)"""


@dataclass
class ReleaseResult:
    release_id: str
    evaluation_year: int
    created: bool  # False: the latest release of the year already holds exactly these figures
    supersedes_release_id: str | None = None
    changed_units: list[str] = field(default_factory=list)
    diff: pl.DataFrame | None = None


# -- versions ---------------------------------------------------------------------------------------------------


_YEAR_IN_NAME = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")


def _ledger_rows(con: duckdb.DuckDBPyConnection, year: int) -> list[tuple]:
    """Loaded ledger rows (source, year, file name, file hash, rows loaded) that can hold data of year <= Y:
    reference files (no year) and yearly files of years <= Y. A file's year is its partition, or the year in
    its name when it was loaded outside a partitioned run (the loader's own rule)."""
    from pipelines.sources import SOURCES

    rows = con.execute(
        """select source, "partition", file_name, file_hash, rows_loaded from raw.ingested_files
           where status = 'loaded' order by source, file_name, file_hash"""
    ).fetchall()
    out = []
    for source, partition, name, digest, loaded in rows:
        file_year = None
        if partition is not None and str(partition).isdigit():
            file_year = int(partition)
        elif source in SOURCES and SOURCES[source].partitioned:
            found = _YEAR_IN_NAME.search(name or "")
            file_year = int(found.group(1)) if found else None
        if file_year is None or file_year <= int(year):
            out.append((source, "" if file_year is None else str(file_year), name, digest, loaded))
    return out


def data_version(con: duckdb.DuckDBPyConnection, year: int) -> str:
    """Hash of the ledger rows (source, year, file, file hash, rows loaded) of every loaded file that can hold
    data of year <= ``year``: yearly files up to Y and the reference files. A later year's files do not change
    it; a corrected file of year <= Y does."""
    rows = _ledger_rows(con, year)
    digest = hashlib.sha256("\n".join("|".join(str(v) for v in r) for r in rows).encode()).hexdigest()
    return f"{len(rows)}f-{digest[:16]}"


def _ledger_files(con: duckdb.DuckDBPyConnection, year: int) -> set[str]:
    return {"|".join(str(v) for v in r[:4]) for r in _ledger_rows(con, year)}


def code_version() -> str:
    """The git commit of the code (with '+dirty' for uncommitted changes), or 'unknown' outside a checkout."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(settings.PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(settings.PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def catalog_version_of(year: int) -> str:
    versions = pl.read_csv(settings.DBT_PROJECT_DIR / "seeds" / "catalog_versions.csv", infer_schema=False)
    hit = versions.filter(pl.col("evaluation_year") == str(year))
    return hit["catalog_version"][0] if hit.height else "unknown"


# -- what judged a release: the rules' content, not only their version label ---------------------------------------
# Office rules get added to the rules seed inside an existing rules version (GEN.change_like_for_like went into 2021.1
# and 2024.1 after releases of those years): a re-run could then move a verdict while the version label read the
# same, and nothing in a release said which rules had judged it. A release records, per version in force in a year of
# its window, a hash of that version's rows (rule, parameter, value: what decides; the descriptions do not), and every
# surface naming a released verdict says when the current rules of such a version differ (rules_changed_text).


def _rules_rows(rules_file: Path | str | None = None) -> pl.DataFrame:
    from pipelines.evaluation.rules import RULES_FILE

    return pl.read_csv(rules_file or RULES_FILE, infer_schema=False).select(
        "rules_version", "rule_code", "param", "value"
    )


def rules_version_hash(version: str, rules_file: Path | str | None = None) -> str | None:
    """Hash of the rules seed's rows of ``version`` (rule, parameter, value; sorted, so the order of the rows does
    not count), None when the seed has no such version."""
    from pipelines.evaluation.rules import RULES_FILE

    path = Path(rules_file or RULES_FILE)
    # read once per file state: every released unit's verdict text asks (an alert run, a province's extract)
    return _rules_version_hash(version, str(path), path.stat().st_mtime_ns, path.stat().st_size)


@lru_cache(maxsize=64)
def _rules_version_hash(version: str, path: str, _mtime_ns: int, _size: int) -> str | None:
    rows = _rules_rows(path).filter(pl.col("rules_version") == version).sort("rule_code", "param")
    if not rows.height:
        return None
    text = "\n".join("|".join("" if v is None else str(v) for v in r) for r in rows.iter_rows())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rules_content_of(first_year: int, last_year: int, rules_file: Path | str | None = None) -> str:
    """``version=hash`` of every rules version in force in a year of first_year..last_year, ';'-joined (what a
    release of that window was judged by, recorded in releases.releases.rules_content)."""
    from pipelines.evaluation.rules import RULES_VERSIONS_FILE

    versions = pl.read_csv(RULES_VERSIONS_FILE, infer_schema=False).with_columns(
        pl.col("evaluation_year").cast(pl.Int64)
    )
    used = sorted(
        set(versions.filter(pl.col("evaluation_year").is_between(int(first_year), int(last_year)))["rules_version"])
    )
    return ";".join(f"{v}={rules_version_hash(v, rules_file)}" for v in used)


def rules_changed_since(release: dict | None, rules_file: Path | str | None = None) -> list[str]:
    """The rules versions whose rows in the rules seed now differ from what judged ``release`` (its rules_content),
    sorted; [] when none does or the release recorded no rules content (released before it was recorded)."""
    recorded = (release or {}).get("rules_content")
    if not recorded:
        return []
    out = []
    for part in str(recorded).split(";"):
        version, _, digest = part.partition("=")
        if version and rules_version_hash(version, rules_file) != (digest if digest != "None" else None):
            out.append(version)
    return sorted(out)


# A released rules version is frozen: its rows (rule, parameter, value, as the hash covers) are stored with every
# release it judged (releases.rules, keyed by release id), and a release is refused while a rules version some
# release recorded now reads otherwise in the seed -- a change must come under a new version label mapped to the
# years it governs (rules_versions.csv), so the label a city reads beside its verdict always names one set of rules.
RULES_DDL = f"""
create table if not exists {SCHEMA}.rules (
  release_id varchar, rules_version varchar, rule_code varchar, param varchar, value varchar
)"""


class RulesVersionChanged(ValueError):
    """The rules seed reads otherwise, inside a version label, than what judged a release."""


def frozen_rules_of(first_year: int, last_year: int, rules_file: Path | str | None = None) -> pl.DataFrame:
    """The rules seed's rows (version, rule, parameter, value) of every rules version in force in a year of
    first_year..last_year: what a release of that window stores as the rules that judged it."""
    from pipelines.evaluation.rules import RULES_VERSIONS_FILE

    versions = pl.read_csv(RULES_VERSIONS_FILE, infer_schema=False).with_columns(
        pl.col("evaluation_year").cast(pl.Int64)
    )
    used = versions.filter(pl.col("evaluation_year").is_between(int(first_year), int(last_year)))["rules_version"]
    return (
        _rules_rows(rules_file)
        .filter(pl.col("rules_version").is_in(used.unique().to_list()))
        .sort("rules_version", "rule_code", "param")
    )


def changed_released_versions(con: duckdb.DuckDBPyConnection, rules_file: Path | str | None = None) -> dict:
    """``{version: [release ids]}`` of every rules version that a release recorded (releases.rules_content) and
    that the rules seed now reads otherwise (edited, rows added or removed, or the version gone); {} when none."""
    if not _has_table(con, SCHEMA, "releases"):
        return {}
    out: dict[str, list[str]] = {}
    recorded = con.execute(
        f"select release_id, rules_content from {SCHEMA}.releases where rules_content is not null "
        f"order by evaluation_year, {LATEST_FIRST}"
    ).fetchall()
    for release_id, content in recorded:
        for version in rules_changed_since({"rules_content": content}, rules_file):
            out.setdefault(version, []).append(release_id)
    return out


def refuse_changed_released_rules(con: duckdb.DuckDBPyConnection, rules_file: Path | str | None = None) -> None:
    """Raise RulesVersionChanged, in both languages, when a rules version that judged a release now reads otherwise
    in the rules seed: a city reading "rules 2024.1" beside two verdicts judged by different rules could contest
    both. The message names the versions, the releases they judged and what to do (a new version label)."""
    changed = changed_released_versions(con, rules_file)
    if not changed:
        return
    named = "; ".join(f"{v} ({', '.join(ids)})" for v, ids in sorted(changed.items()))
    raise RulesVersionChanged(
        f"已发布的规则版本被修改：{named}。已发布的规则版本不得改动：请将修改后的规则以新的版本号写入 "
        f"evaluation_rules.csv，并在 rules_versions.csv 中映射其适用年份后再发布 · "
        f"rules version(s) changed after they judged a release: {named}. A released rules version is never "
        f"edited: write the changed rules under a new version label in evaluation_rules.csv and map the years it "
        f"governs in rules_versions.csv, then release"
    )


def rules_changed_text(release: dict | None, lang: str, rules_file: Path | str | None = None) -> str:
    """ "the rules of version 2024.1 changed after this release" in ``lang`` (labels seed rules_changed_since_release),
    "" when the rules that judged the release are the current ones."""
    from pipelines.labels import label_text

    changed = rules_changed_since(release, rules_file)
    if not changed:
        return ""
    return f"{label_text('rules_changed_since_release', lang)}{'：' if lang == 'zh' else ': '}{', '.join(changed)}"


# -- a city recoded after a release ----------------------------------------------------------------------------------
# Releases are keyed by the unit code at release time. A code replaced since (seed unit_code_changes: 莱芜 371200
# merged into 济南 370100, the 地区 made 地级市 under new codes) left a city's released verdict unfound by every reader
# keyed by the current code. Readers look the current code up first, then the codes it replaced (released_under), and
# the verdict then says it was released under the old code (recoded_text).


@lru_cache(maxsize=1)
def _code_changes() -> tuple[tuple[str, str, str], ...]:
    """(old code, old name, new code) of the seed unit_code_changes (the project's one code-change mapping)."""
    import csv

    from pipelines.labels import SEEDS_DIR

    with open(SEEDS_DIR / "unit_code_changes.csv", encoding="utf-8", newline="") as f:
        return tuple(
            (r["old_code"], r["old_name"], r["new_code"]) for r in csv.DictReader(f) if r["old_code"] and r["new_code"]
        )


def former_codes(unit_code: str) -> list[tuple[str, str]]:
    """(code, name) of every code ``unit_code`` replaced, directly or through a chain of changes, nearest first."""
    changes = _code_changes()
    out: list[tuple[str, str]] = []
    frontier = [str(unit_code)]
    while frontier:
        code = frontier.pop(0)
        for old, name, new in changes:
            if new == code and old not in {c for c, _ in out} and old != str(unit_code):
                out.append((old, name))
                frontier.append(old)
    return out


def released_under(rows_by_code: dict, unit_code: str) -> dict | None:
    """The released row of ``unit_code`` from ``rows_by_code`` (a release's rows keyed by the code they were released
    under): its own, else the row of a code it replaced, marked (released_unit_code / released_unit_name)."""
    row = rows_by_code.get(unit_code)
    if row is not None:
        return row
    for old, name in former_codes(unit_code):
        row = rows_by_code.get(old)
        if row is not None:
            return {**row, "released_unit_code": old, "released_unit_name": name}
    return None


def recode_released(released: pl.DataFrame, current_codes) -> pl.DataFrame:
    """A release's rows (``unit_code`` as released) keyed by the current codes: a row under a code replaced since
    takes the code of its successor among ``current_codes`` when the successor has no released row of its own (a
    reader joining on the current code then finds it), with ``released_unit_code`` the code it was released under
    (null for the rest)."""
    current = {str(c) for c in current_codes}
    have = set(released["unit_code"].to_list()) if released.height else set()
    to_current = {}
    for code in current - have:
        for old, _name in former_codes(code):
            if old in have and old not in to_current:
                to_current[old] = code
                break
    return released.with_columns(
        pl.col("unit_code").replace(to_current).alias("unit_code"),
        pl.when(pl.col("unit_code").is_in(list(to_current)))
        .then(pl.col("unit_code"))
        .otherwise(None)
        .cast(pl.String)
        .alias("released_unit_code"),
    )


def recoded_text(released: dict | None, lang: str) -> str:
    """ "released under the former code 371200 (莱芜市)" in ``lang`` (labels seed released_under_former_code), "" when
    the verdict was released under the unit's current code."""
    from pipelines.labels import label_text

    code = (released or {}).get("released_unit_code")
    if not code:
        return ""
    name = (released or {}).get("released_unit_name")
    named = (f"（{name}）" if lang == "zh" else f" ({name})") if name else ""
    return f"{label_text('released_under_former_code', lang)} {code}{named}"


# -- computing the figures of year Y on the window ending at Y ------------------------------------------------------


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def _window(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    first, last = con.execute("select min(year), max(year) from marts.fct_city_score_year").fetchall()[0]
    if first is None:
        raise ValueError("marts.fct_city_score_year is empty: run the pipeline before releasing")
    return int(first), int(last)


def _dbt(args: list[str], warehouse: Path, work: Path) -> None:
    dbt = Path(sys.executable).parent / "dbt"
    res = subprocess.run(
        [
            str(dbt),
            *args,
            "--project-dir",
            str(settings.DBT_PROJECT_DIR),
            "--profiles-dir",
            str(settings.DBT_PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        capture_output=True,
        text=True,
        cwd=settings.DBT_PROJECT_DIR,
        env={**os.environ, "IPCITY_WAREHOUSE": str(warehouse)},
    )
    if res.returncode != 0:
        raise RuntimeError(
            f"dbt {' '.join(args[:3])} failed while rebuilding the release window:\n{res.stdout[-4000:]}"
        )


def rebuild_window(warehouse: Path, first_year: int, last_year: int, work: Path, mc_seed: int, mc_runs: int) -> Path:
    """A scratch copy of the warehouse with every mart recomputed on the window first_year..last_year."""
    from pipelines.evaluation.uncertainty import run_uncertainty, write_rank_uncertainty

    scratch = work / "release_window.duckdb"
    scratch.unlink(missing_ok=True)
    from pipelines.sources import YEARLY_SOURCES

    with duckdb.connect(str(scratch)) as con:
        con.execute(f"attach '{warehouse}' as src (read_only)")
        con.execute(f"copy from database src to {scratch.stem}")
        con.execute("detach src")
        # The data as they stood at Y: later years' records leave, so nothing after Y decides anything about
        # Y (e.g. whether a unit "appears in a source" -- zero vs missing -- or the reporting as-of date).
        for source in YEARLY_SOURCES:
            con.execute(f"delete from {source.table} where year > ?", [int(last_year)])
        keep = [r[3] for r in _ledger_rows(con, last_year)]  # file hashes of the files that stood at Y
        con.execute(
            "delete from raw.ingested_files where status = 'loaded' and not list_contains(?, file_hash)", [keep]
        )
    window = f"{{evaluation_first_year: {first_year}, evaluation_last_year: {last_year}}}"
    _dbt(["run", "--exclude", *settings.DBT_EVALUATION_SELECTORS, "--vars", window], scratch, work)
    with duckdb.connect(str(scratch)) as con:
        write_rank_uncertainty(con, run_uncertainty(con, n_runs=mc_runs, seed=mc_seed))
    _dbt(["run", "--select", *settings.DBT_EVALUATION_SELECTORS, "--vars", window], scratch, work)
    return scratch


def _yearly_sources():
    from pipelines.sources import YEARLY_SOURCES

    return YEARLY_SOURCES


def _released_frames(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, pl.DataFrame]:
    out = {}
    for name, (relation, where, keys) in RELEASED.items():
        schema, table = relation.split(".")
        if not _has_table(con, schema, table):
            continue
        df = con.sql(f"select * from {relation} where {where.format(y=int(year))}").pl()
        out[name] = df.sort(keys)
    return out


def _content_hash(frames: dict[str, pl.DataFrame]) -> str:
    """Hash of the released figures, floats to 9 significant digits: DuckDB's parallel sums may differ in the
    last bits between two computations of the same data, which is not a different figure."""
    h = hashlib.sha256()
    for name in sorted(frames):
        buf = io.StringIO()
        frames[name].with_columns(pl.col(pl.Float64).round_sig_figs(9)).write_csv(buf)
        h.update(name.encode())
        h.update(buf.getvalue().encode())
    return h.hexdigest()[:24]


# -- the release -------------------------------------------------------------------------------------------------


def ensure_release_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(RELEASES_DDL)
    # a releases table written before rules_content existed gains it, null in its rows (not recorded)
    con.execute(f"alter table {SCHEMA}.releases add column if not exists rules_content varchar")
    con.execute(DIFF_DDL)
    con.execute(RULES_DDL)


# The order that puts a year's latest release first, for every reader (the dashboard, its report, the dossier,
# the extracts, the next release): the highest sequence number of its id R<year>-<n> (written 01, 02, ...; the
# length first, so -100 follows -99). Never released_at: older releases carry the releasing machine's naive local clock, which
# runs backwards when the machine moves from UTC+8 to UTC, and an extract then named a superseded release.
LATEST_FIRST = "length(release_id) desc, release_id desc"


def latest_release(con: duckdb.DuckDBPyConnection, year: int) -> dict | None:
    if not _has_table(con, SCHEMA, "releases"):
        return None
    df = con.sql(
        f"select * from {SCHEMA}.releases where evaluation_year = {int(year)} order by {LATEST_FIRST} limit 1"
    ).pl()
    return df.row(0, named=True) if df.height else None


# Every unit's released rank with whether it is shared (并列) in the release, from the release's own ranks: another
# ranked unit of the release holds the same rank (fct_city_score_year.rank_is_shared, computed over the released
# table so a release written before that column existed -- null there -- reads tied too). The dossier's "as
# released" line and the extract's released_rank_is_shared read it here.
RELEASED_RANKS_SQL = f"""select release_id, unit_code, rank,
    count(*) over (partition by release_id, rank) > 1 as rank_is_shared
  from {SCHEMA}.city_score_year where rank is not null"""


def _shown_moved(a, b, shown) -> bool:
    """True when ``a`` and ``b`` read differently as ``shown`` words them. "Differs from the release" is a verdict a
    city reads beside two figures: judged on the unrounded values (a tolerance of 1e-9), a city reading index 80.0 as
    released and 80.0 now was told its figures differ, and the extracts -- comparing the published figures -- said
    they did not. The figures shown are the ones compared, as ranks and groups are decided on them."""
    return shown(a) != shown(b)


def released_differs(released: dict | None, current: dict | None) -> bool:
    """True when the current stage, index or rank of a unit-year is not what was released (the dashboard's
    profile, the dossier and the provincial extracts mark such unit-years). The index is compared as published
    (labels.index_text: GEN.index_decimals, the figure each of them shows). The rank counts when both rows have
    one: the as-released rank is shown beside the current one, and a city moved down by its peers' revised data
    (its own stage and index unchanged) must be told its current figures differ."""
    if released is None or current is None:
        return released is not current
    rank_moved = "rank" in released and "rank" in current and released["rank"] != current["rank"]
    moved = _shown_moved(released.get("composite_index"), current.get("composite_index"), index_text)
    return released.get("stage") != current.get("stage") or moved or rank_moved


def released_acceptance_differs(released: dict | None, current: dict | None) -> bool:
    """True when the current acceptance score, band or status of the released cycle is not what was released
    (a revised file of the cycle can move a city across a band: the release keeps the as-released band, and the
    dossier and the extracts say the current figures differ). The score is compared as shown
    (rules.acceptance_score_text). Rows of different cycles are not compared."""
    if released is None or current is None:
        return released is not current
    if released.get("cycle_first_year") != current.get("cycle_first_year"):
        return False
    return (
        released.get("acceptance_band") != current.get("acceptance_band")
        or released.get("acceptance_status") != current.get("acceptance_status")
        or _shown_moved(released.get("acceptance_score"), current.get("acceptance_score"), acceptance_score_text)
    )


def released_cycle_differs(released: dict | None, current: dict | None) -> bool:
    """True when the current verdict (or its status: final, third-party pending, ...) of the released cycle is not
    what was released: data corrected after publication moved a published cycle verdict. The release keeps the
    verdict as published; the dossier and the extracts show both, old and new, marked "revised after publication"
    (labels seed revised_after_publication), never the new one silently in its place. Rows of different cycles
    are not compared (the cycle of the year moved on)."""
    if released is None or current is None:
        return released is not current
    if released.get("cycle_start") != current.get("cycle_start"):
        return False
    return released.get("verdict") != current.get("verdict") or released.get("verdict_status") != current.get(
        "verdict_status"
    )


def cycle_revision_text(released: dict | None, current: dict | None, lang: str) -> str | None:
    """A cycle verdict moved after publication as a city reads it: "revised after publication: old → new" in
    ``lang`` (labels seed revised_after_publication and the verdicts' own labels), or None when it did not move.
    The dossier, the provincial extracts and the dashboard profile show it this way, not a bare "differs": a city
    contesting its verdict must see which verdict was published and which the current data give. A status change
    under the same verdict (final → third-party pending) shows the statuses."""
    if released is None or current is None or not released_cycle_differs(released, current):
        return None
    from pipelines.labels import label_text

    key = "verdict" if released.get("verdict") != current.get("verdict") else "verdict_status"
    old, new = (label_text(r.get(key), lang) if r.get(key) else "–" for r in (released, current))
    return f"{label_text('revised_after_publication', lang)}: {old} → {new}"


def release_verdict_text(release: dict | None, released: dict | None, current: dict | None, lang: str) -> str:
    """The official verdict of a released unit-year as every surface words it (the stage alert, the dashboard
    profile, the dossier): which release it is -- its id and time in Beijing time, marked -- with the stage, index and
    rank as released and, where the current figures differ (released_differs: as shown), what moved, old → new as
    shown. After a release and a restatement or a corrected file, the alert spoke of the current marts only: a city
    read a stage no published document held and could not tell which one was official. "" when the year was not
    released or the unit is not in the release."""
    from pipelines.china_time import china_time_text
    from pipelines.labels import label_text, rank_text

    if not release or not released:
        return ""
    zh = lang == "zh"
    sep, colon = ("，", "：") if zh else (", ", ": ")
    when = china_time_text(release.get("released_at"), lang)

    def stage(r):
        return label_text(r.get("stage"), lang) if r.get("stage") else "–"

    def rank(r):
        return rank_text(r.get("rank"), r.get("n_ranked"), r.get("rank_is_shared"), lang)

    index_word, rank_word = ("指数 ", "排名 ") if zh else ("index ", "rank ")
    text = (
        f"{label_text('official_verdict_release', lang)}{colon}{release['release_id']}"
        + (f"（{when}）" if zh else f" ({when})") * bool(when)
        + f"{colon}{stage(released)}{sep}{index_word}{index_text(released.get('composite_index'))}"
        + f"{sep}{rank_word}{rank(released)}"
    )
    # what may make the released verdict read otherwise than the current one: the rules it was judged by changed
    # inside their version label, or the city was released under a code it no longer has
    for extra in (rules_changed_text(release, lang), recoded_text(released, lang)):
        if extra:
            text += ("；" if zh else "; ") + extra
    if current is None or not released_differs(released, current):
        return text
    moved = []
    if stage(released) != stage(current):
        moved.append(f"{stage(released)} → {stage(current)}")
    old, new = index_text(released.get("composite_index")), index_text(current.get("composite_index"))
    if old != new:
        moved.append(f"{index_word}{old} → {new}")
    if rank(released) != rank(current):
        moved.append(f"{rank_word}{rank(released)} → {rank(current)}")
    return text + ("；" if zh else "; ") + label_text("current_data_differ", lang) + colon + sep.join(moved)


def release_acceptance_text(release: dict | None, released: dict | None, current: dict | None, lang: str) -> str:
    """The official acceptance verdict of a released cycle as every surface words it (the acceptance-band alert, the
    dossier): the release (id, Beijing time, marked), the cycle, the score (two decimals, as shown) and band as
    released, and -- where the current score, band or status of that cycle differ (released_acceptance_differs) --
    old → new. The acceptance alert named the current score only: a city whose published score sat in another band
    than a revised file now gives could not tell which one was official. "" when nothing was released."""
    from pipelines.china_time import china_time_text
    from pipelines.labels import label_text

    if not release or not released:
        return ""
    zh = lang == "zh"
    sep, colon = ("，", "：") if zh else (", ", ": ")
    when = china_time_text(release.get("released_at"), lang)

    def verdict(r: dict) -> str:
        if r.get("acceptance_score") is None:
            return label_text(r.get("acceptance_status"), lang) if r.get("acceptance_status") else "–"
        band = label_text(r.get("acceptance_band"), lang) if r.get("acceptance_band") else "–"
        return f"{acceptance_score_text(r.get('acceptance_score'))}{sep}{band}"

    cycle = released.get("cycle") or "–"
    what = f"{cycle} 周期验收评分 " if zh else f"acceptance score for the cycle {cycle}: "
    text = (
        f"{label_text('official_verdict_release', lang)}{colon}{release['release_id']}"
        + (f"（{when}）" if zh else f" ({when})") * bool(when)
        + f"{colon}{what}{verdict(released)}"
    )
    for extra in (rules_changed_text(release, lang), recoded_text(released, lang)):
        if extra:
            text += ("；" if zh else "; ") + extra
    if current is None or not released_acceptance_differs(released, current):
        return text
    return (
        text
        + ("；" if zh else "; ")
        + f"{label_text('current_data_differ', lang)}{colon}{verdict(released)} → {verdict(current)}"
    )


def released_rows(con: duckdb.DuckDBPyConnection, table: str, release_id: str) -> pl.DataFrame:
    keys = RELEASED[table][2]
    return (
        con.sql(f"select * from {SCHEMA}.{table} where release_id = ?", params=[release_id])
        .pl()
        .drop("release_id")
        .sort(keys)
    )


def _fmt(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def restatement_diff(
    con: duckdb.DuckDBPyConnection, previous: dict, frames: dict[str, pl.DataFrame], changed_files: list[str]
) -> pl.DataFrame:
    """Per unit and figure that changed between the previous release and ``frames``: old, new and why."""
    rows = []

    def previous_rows(table: str) -> pl.DataFrame:
        # keyed by the current codes: a city recoded since the previous release is the same city, its figures
        # compared, never one city "removed" and another "added" (recode_released)
        rows = released_rows(con, table, previous["release_id"])
        return recode_released(rows, frames[table]["unit_code"].to_list()).drop("released_unit_code")

    old_ind = previous_rows("indicator_year") if "indicator_year" in frames else None
    revised_units: dict[str, list[str]] = {}
    if old_ind is not None:
        new_ind = frames["indicator_year"]
        joined = old_ind.select("unit_code", "indicator_code", old=pl.col("raw_value")).join(
            new_ind.select("unit_code", "indicator_code", new=pl.col("raw_value")),
            on=["unit_code", "indicator_code"],
            how="full",
            coalesce=True,
        )
        moved = joined.filter(
            (pl.col("old").is_null() != pl.col("new").is_null())
            | ((pl.col("old") - pl.col("new")).abs() > 1e-9 * (1 + pl.col("old").abs()))
        )
        for unit, code in moved.select("unit_code", "indicator_code").iter_rows():
            revised_units.setdefault(unit, []).append(code)
    files = "; ".join(changed_files) if changed_files else "no file changed"
    for table, fields in DIFF_FIELDS.items():
        if table not in frames:
            continue
        old = previous_rows(table)
        new = frames[table]
        cols = ["unit_code", *[f for f in fields if f in new.columns and f in old.columns]]
        names = dict(new.select("unit_code", "unit_name").iter_rows()) if "unit_name" in new.columns else {}
        joined = old.select(cols).join(new.select(cols), on="unit_code", how="full", suffix="_new", coalesce=True)
        for r in joined.iter_rows(named=True):
            unit = r["unit_code"]
            for f in cols[1:]:
                a, b = r[f], r[f + "_new"]
                if f in DIFF_SHOWN:
                    a, b = (None if v is None else DIFF_SHOWN[f](v) for v in (a, b))
                if a == b:
                    continue
                if unit in revised_units:
                    reason = f"own data revised ({', '.join(sorted(revised_units[unit]))}); files: {files}"
                else:
                    reason = f"rescaling: other cities' revised data moved the programme mean / bounds; files: {files}"
                rows.append((unit, names.get(unit), table, f, _fmt(a), _fmt(b), reason))
    return pl.DataFrame(
        rows,
        schema=["unit_code", "unit_name", "released_table", "field", "old_value", "new_value", "reason"],
        orient="row",
    )


def release(
    warehouse: Path | str | None = None,
    year: int | None = None,
    *,
    mc_seed: int = DEFAULT_MC_SEED,
    mc_runs: int = DEFAULT_MC_RUNS,
    reason: str = "",
    work_dir: Path | None = None,
) -> ReleaseResult:
    """Release the evaluation of ``year`` (default: the last year of the current window). Idempotent: when the
    latest release of the year already holds exactly these figures nothing is written; otherwise a new release
    (a restatement when one exists) with its diff."""
    warehouse = Path(warehouse or settings.warehouse_path())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        first, last = _window(con)
        year = int(year or last)
        if not first <= year <= last:
            raise ValueError(f"year {year} is outside the evaluated window {first}-{last}")
        if not _has_table(con, "marts", "fct_rank_uncertainty"):
            raise ValueError("no uncertainty runs (marts.fct_rank_uncertainty): a release needs robust verdicts")
        version = data_version(con, year)
        files_now = _ledger_files(con, year)
        # before any rebuild: a rules version edited after it judged a release is refused, never released under
        refuse_changed_released_rules(con)
    tmp = None
    try:
        source = warehouse
        with duckdb.connect(str(warehouse), read_only=True) as con:
            later = any(
                con.execute(f"select count(*) from {s.table} where year > ?", [year]).fetchall()[0][0]
                for s in _yearly_sources()
                if _has_table(con, "raw", s.name)
            )
        if year < last or later:
            # frozen normalisation: year Y is computed on the window ending at Y, never on later years' data
            tmp = tempfile.TemporaryDirectory(prefix="ipcity_release_", dir=work_dir)
            source = rebuild_window(warehouse, first, year, Path(tmp.name), mc_seed, mc_runs)
        with duckdb.connect(str(source), read_only=True) as con:
            frames = _released_frames(con, year)
            seeds = (
                con.execute("select distinct seed from marts.fct_rank_uncertainty").fetchall()
                if _has_table(con, "marts", "fct_rank_uncertainty")
                else []
            )
        seed_used = int(seeds[0][0]) if len(seeds) == 1 else mc_seed
        content = _content_hash(frames)
        rules_content = rules_content_of(first, year)
        with duckdb.connect(str(private_duckdb(warehouse))) as con:
            ensure_release_schema(con)
            refuse_changed_released_rules(con)
            previous = latest_release(con, year)
            # the same figures judged by other rules (a year mapped to a new rules version) are a new release: the
            # record must say which rules judged what is published
            recorded = (previous or {}).get("rules_content")
            rules_moved = bool(recorded) and recorded != rules_content
            if previous is not None and previous["content_hash"] == content and not rules_moved:
                return ReleaseResult(previous["release_id"], year, created=False)
            n = con.execute(f"select count(*) from {SCHEMA}.releases where evaluation_year = ?", [year]).fetchall()[0][
                0
            ]
            release_id = f"R{year}-{n + 1:02d}"
            diff = None
            if previous is not None:
                files_then = set((previous.get("data_files") or "").split("\n")) - {""}
                # files that arrived or were replaced since the previous release: "source partition file"
                changed = sorted(" ".join(f.split("|")[:3]) for f in files_now - files_then)
                diff = restatement_diff(con, previous, frames, changed)
                diff = diff.with_columns(
                    release_id=pl.lit(release_id),
                    supersedes_release_id=pl.lit(previous["release_id"]),
                    evaluation_year=pl.lit(year, pl.Int32),
                ).select(
                    "release_id",
                    "supersedes_release_id",
                    "evaluation_year",
                    "unit_code",
                    "unit_name",
                    "released_table",
                    "field",
                    "old_value",
                    "new_value",
                    "reason",
                )
            con.execute("begin transaction")
            for name, df in frames.items():
                frame = df.with_columns(release_id=pl.lit(release_id)).select("release_id", *df.columns)  # noqa: F841
                if _has_table(con, SCHEMA, name):
                    _add_new_columns(con, name, frame)
                    con.execute(f"insert into {SCHEMA}.{name} by name select * from frame")
                else:
                    con.execute(f"create table {SCHEMA}.{name} as select * from frame")
            if diff is not None and diff.height:
                con.execute(f"insert into {SCHEMA}.restatement_diff by name select * from diff")
            frozen = frozen_rules_of(first, year).with_columns(release_id=pl.lit(release_id))  # noqa: F841
            con.execute(f"insert into {SCHEMA}.rules by name select * from frozen")
            n_units = frames["evaluation_year"].height if "evaluation_year" in frames else 0
            columns = (
                "release_id, evaluation_year, data_version, catalog_version, rules_version, code_version, mc_seed, "
                "window_first_year, window_last_year, released_at, supersedes_release_id, content_hash, n_units, "
                "restatement_reason, data_files, rules_content"
            )
            if rules_moved and not reason:
                labels = [", ".join(p.partition("=")[0] for p in c.split(";")) for c in (recorded, rules_content)]
                reason = f"rules versions of the window changed: {labels[0]} -> {labels[1]}"
            con.execute(
                f"insert into {SCHEMA}.releases ({columns}) values ({', '.join('?' * 16)})",
                [
                    release_id,
                    year,
                    version,
                    catalog_version_of(year),
                    rules_version_of(year),
                    code_version(),
                    seed_used,
                    first,
                    year,
                    utc_now().replace(microsecond=0),
                    previous["release_id"] if previous else None,
                    content,
                    n_units,
                    reason or ("restatement: figures changed" if previous else None),
                    "\n".join(sorted(files_now)),
                    rules_content,
                ],
            )
            con.execute("commit")
        changed_units = sorted(set(diff["unit_code"].to_list())) if diff is not None and diff.height else []
        return ReleaseResult(
            release_id,
            year,
            created=True,
            supersedes_release_id=previous["release_id"] if previous else None,
            changed_units=changed_units,
            diff=diff,
        )
    finally:
        if tmp is not None:
            tmp.cleanup()
