"""Policy simulator (情景模拟): what the evaluation would say under other weights, thresholds and rule parameters.

One implementation: a scenario never re-implements a rule. It copies the published snapshot into a scratch
DuckDB file, writes the scenario's parameters into the same seed tables the pipeline reads
(``marts.evaluation_rules``, ``marts.pillars``), and runs the project's own dbt models (composite, score,
evaluation marts) and the project's own uncertainty step (``pipelines.evaluation.uncertainty``) on it. The
result is compared with the snapshot: ranks, stages, cycle verdicts and acceptance bands that would change, and
whether each change is robust (the scenario's own robustness flags; for ranks, whether the move is larger than
the rank's published 5-95 % uncertainty interval).

Scenarios are stored in a writable SQLite file beside the warehouse (``<warehouse dir>/scenarios/``), never in
the warehouse or the snapshot, and every stored or exported row says it is a simulation, not a verdict. The
scratch database carries ``rules_version = 'scenario:<id>:<version>'`` so nothing built from it can pass for published.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines import settings
from pipelines.data_nature import DataNature, with_provenance_column
from pipelines.labels import ROBUSTNESS_NOT_APPLICABLE_TO, label_set, label_text

PILLARS = ("MGT", "PRO", "UTL", "QLT", "ENV")
DISCLAIMER_ZH = "模拟情景,不是正式评价结论,不得作为评价结果发布"
DISCLAIMER_EN = "Simulation scenario - not an evaluation verdict; never to be published as one"
# Rule parameters a scenario may change: every numeric parameter of the rules seed, and the two group names.
GROUP_PARAMS = {"W1.bottom_group", "EX1.leader_group"}
GROUPS = tuple(label_set("performance_group"))  # the labels seed's order, as the simulator lists them
_SHARE_PARAMS = ("robust_share", "lagging_share", "_share", "_weight", "ratio")
CHANGE_KINDS = ("rank", "stage", "verdict", "acceptance_band")
EVALUATION_SELECT = "path:models/intermediate/evaluation path:models/marts/evaluation"
# The score models a pillar-weight scenario re-runs, from the catalog seeds up to the score mart.
SCORE_SELECT = (
    "int_indicator_catalog int_performance_bands dim_indicator int_pillar_scores int_composite int_programme_average_year "
    "fct_programme_average_year fct_city_score_year"
)


class ScenarioError(ValueError):
    """A scenario that cannot be run: invalid parameters or a failed model run (message says which)."""


class ScenarioBusy(ScenarioError):
    """Another scenario is being computed: one at a time for every worker of the installation."""


@contextlib.contextmanager
def one_run_at_a_time(root: Path):
    """Hold the installation's scenario-run lock (a file lock in the scenario store's folder ``root``, which the
    workers share; beside the work folder, which a run leaves empty) or raise ScenarioBusy.
    A run copies the snapshot and runs dbt and the uncertainty step for minutes: clicks repeated, or a script
    posting Run, would otherwise start as many copies and runs as the server has threads and fill disk and CPU."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "run.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScenarioBusy("another scenario is being computed") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class Scenario:
    rules: dict[str, str] = field(default_factory=dict)  # "R2.regress_points" -> "8"
    pillar_weights: dict[str, float] = field(default_factory=dict)  # "PRO" -> 0.3 (every catalog version)

    def to_json(self) -> str:
        return json.dumps(
            {"rules": self.rules, "pillar_weights": self.pillar_weights}, ensure_ascii=False, sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        d = json.loads(text)
        return cls(
            rules=dict(d.get("rules", {})), pillar_weights={k: float(v) for k, v in d.get("pillar_weights", {}).items()}
        )


# -- parameters ---------------------------------------------------------------------------------------------------


def base_rules(db: Path) -> pl.DataFrame:
    """The rules seed as published in the snapshot (rule_code, param, value, descriptions; the officials' plain
    descriptions where the snapshot has them)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql("select * from marts.evaluation_rules").pl()
    finally:
        con.close()


def base_pillar_weights(db: Path) -> dict[str, float]:
    """Pillar weights of the latest catalog version in the snapshot."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select pillar_code, pillar_weight from marts.pillars "
            "where catalog_version = (select max(catalog_version) from marts.pillars)"
        ).fetchall()
    finally:
        con.close()
    return {code: float(w) for code, w in rows}


# Parameters of the cycle calendar: the 2012-2016 demonstration cities' calendar is anchored on them when the
# programme marts are built; scenarios do not rebuild those marts.
CALENDAR_PARAMS = frozenset({"GEN.cycle_anchor_year", "GEN.cycle_length"})
# Parameters that switch a rule or an office rule on (1) or off (0). The models test them with "= 1" in one place and
# "= 0" in another (X1.require_still_flagged: fct_evaluation_year asks "= 0 or still watched", the cycle chain
# "= 1 and no longer watched"), so any other value ran a scenario under no coherent rule -- 5 made X1 need a watch
# year while the chain counted a city out of every watch condition as not improved.
SWITCH_PARAMS = frozenset(
    {"enabled", "require_still_flagged", "pending_blocks_verdict", "joined_entry_baseline", "change_like_for_like"}
)


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def validate_scenario(scenario: Scenario, rules: pl.DataFrame) -> Scenario:
    """The scenario with only known parameters, numbers parsed and ranges checked; ScenarioError otherwise."""
    # the latest rules version's value is the base a changed value is compared with (sorted: the latest wins)
    known = {f"{r}.{p}": v for r, p, v in rules.sort("rules_version").select("rule_code", "param", "value").iter_rows()}
    clean_rules: dict[str, str] = {}
    for key, value in scenario.rules.items():
        if key not in known:
            raise ScenarioError(f"unknown rule parameter {key!r}")
        if key in CALENDAR_PARAMS:
            # the evaluation reads each unit's cycles from its programme's calendar (fct_programme_unit_year, seed
            # programme_calendar); a scenario re-runs the evaluation on that calendar and could not move it
            raise ScenarioError(
                f"{key}: the cycle calendar is each programme's (seed programme_calendar), not a scenario parameter"
            )
        text = str(value).strip()
        if key in GROUP_PARAMS:
            if text not in GROUPS:
                raise ScenarioError(f"{key}: {text!r} is not a performance group ({', '.join(GROUPS)})")
        else:
            try:
                number = float(text)
            except ValueError:
                raise ScenarioError(f"{key}: {text!r} is not a number") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise ScenarioError(f"{key}: not a finite number")
            param = key.split(".", 1)[1]
            if param in SWITCH_PARAMS and number not in (0, 1):
                raise ScenarioError(f"{key}: 0 or 1")
            if any(s in param for s in _SHARE_PARAMS) and not 0 <= number <= 1 and "ratio" not in param:
                raise ScenarioError(f"{key}: a share between 0 and 1")
            if param in ("cycle_length", "watch_years", "min_targets", "trend_years", "min_peers") and (
                number < 1 or number != int(number)
            ):
                raise ScenarioError(f"{key}: a whole number of at least 1")
            text = str(int(number)) if number == int(number) and "." not in text else repr(number)
        # a number is compared as a number: the form sends 0.1 for the seed's "0.10", and the text comparison kept
        # it as a change the scenario then listed ("0.1 → 0.1") and ran with
        if key in GROUP_PARAMS or _number(known[key]) is None:
            if text != str(known[key]):
                clean_rules[key] = text
        elif float(text) != _number(known[key]):
            clean_rules[key] = text
    weights: dict[str, float] = {}
    for code, w in scenario.pillar_weights.items():
        if code not in PILLARS:
            raise ScenarioError(f"unknown pillar {code!r}")
        w = float(w)
        if not 0 <= w <= 1:
            raise ScenarioError(f"pillar weight {code}: between 0 and 1")
        weights[code] = w
    if weights and sum(weights.values()) <= 0:
        raise ScenarioError("pillar weights must not all be 0")
    return Scenario(rules=clean_rules, pillar_weights=weights)


# -- running ------------------------------------------------------------------------------------------------------


def _dbt(select: str, db: Path, work: Path) -> None:
    """The project's dbt models on the scratch database, in a subprocess (dbt keeps process-wide state)."""
    cmd = [
        sys.executable,
        "-c",
        "from dbt.cli.main import cli; cli()",
        "run",
        "--select",
        *select.split(),
        # models that read staging/raw tables a snapshot does not carry and that no scenario parameter changes
        # (what arrived when; the national unit's statistics): the published tables stay as they are
        "--exclude",
        "fct_reporting_status",
        "fct_national_benchmark",
        # the roster as published: no scenario parameter changes who joined when (its intermediate is written from
        # it below, for the acceptance score)
        "fct_programme_membership",
        "--project-dir",
        str(settings.DBT_PROJECT_DIR),
        "--profiles-dir",
        str(settings.DBT_PROJECT_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--threads",
        "1",
        "--quiet",
    ]
    env = {**os.environ, "IPCITY_WAREHOUSE": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    proc = subprocess.run(cmd, cwd=settings.DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise ScenarioError("evaluation models failed on the scenario:\n" + "\n".join(tail))


def _has(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchall()[0][0]
    )


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.columns where table_schema = ? and table_name = ? "
            "and column_name = ?",
            [schema, table, column],
        ).fetchall()[0][0]
    )


def _prepare(scratch: Path, scenario: Scenario, scenario_id: str, rules_csv: Path) -> None:
    con = duckdb.connect(str(scratch))
    try:
        for key, value in scenario.rules.items():
            rule, param = key.split(".", 1)
            con.execute(
                "update marts.evaluation_rules set value = ? where rule_code = ? and param = ?", [value, rule, param]
            )
        # The rules file for the uncertainty step keeps the published version names (it maps years to versions
        # through the rules_versions seed); the scratch tables get them prefixed, in both the rules and the
        # year -> version map so the evaluation models still find each year's rules.
        con.sql("select * from marts.evaluation_rules").pl().write_csv(rules_csv)
        marker = f"scenario:{scenario_id}:"
        con.execute("update marts.evaluation_rules set rules_version = ? || rules_version", [marker])
        con.execute("update marts.rules_versions set rules_version = ? || rules_version", [marker])
        if scenario.pillar_weights:
            total = sum(scenario.pillar_weights.values())
            for code, w in scenario.pillar_weights.items():
                con.execute("update marts.pillars set pillar_weight = ? where pillar_code = ?", [w / total, code])
        # The score models read the evaluation calendar and the indicator scores from the intermediate layer, which
        # the snapshot does not publish; their mart twins hold the same rows.
        con.execute("create schema if not exists intermediate")
        if scenario.pillar_weights:
            con.execute(
                "create or replace table intermediate.int_indicator_scores as select * from marts.fct_city_indicator_year"
            )
        if _has(con, "marts", "fct_programme_unit_year"):
            # withdrawn_year: the governing membership's withdrawal (the cycle verdict "withdrawn"). A snapshot
            # published before the calendar carried it: derived from the membership it belongs to, as
            # int_programme_unit_years defines it (exit_reason withdrawn, the year of left_on); a null there made
            # every withdrawn cycle read as judged on its data, a verdict the simulator never had.
            withdrawn, join = "y.withdrawn_year", ""
            if not _has_column(con, "marts", "fct_programme_unit_year", "withdrawn_year"):
                if not all(
                    _has_column(con, "marts", "fct_programme_membership", c)
                    for c in ("unit_code", "programme_code", "cohort", "exit_reason", "left_on")
                ):
                    raise ScenarioError(
                        "该快照既无 fct_programme_unit_year.withdrawn_year，也无可推导退出年份的 "
                        "fct_programme_membership（exit_reason, left_on），无法模拟“退出”结论；请用当前版本重新发布快照。"
                        " / This snapshot has neither fct_programme_unit_year.withdrawn_year nor a "
                        "fct_programme_membership with exit_reason and left_on to derive it: the simulator cannot "
                        "give the verdict 'withdrawn'. Publish the snapshot again with the current version."
                    )
                withdrawn = "case when m.exit_reason = 'withdrawn' then year(m.left_on) end"
                join = (
                    "left join marts.fct_programme_membership m on m.unit_code = y.unit_code "
                    "and m.programme_code = y.programme_code and m.cohort = y.cohort"
                )
            con.execute(
                "create or replace table intermediate.int_programme_unit_years as "
                "select y.unit_code, y.year, true as is_evaluated, y.programme_code, y.cohort, y.joined_on, "
                "y.cycle_anchor_year, y.cycle_length, y.cycle_start, y.cycle_end, y.cycle_baseline_year, "
                f"y.acceptance_scored, {withdrawn} as withdrawn_year, y.n_memberships "
                f"from marts.fct_programme_unit_year y {join}"
            )
        else:
            con.execute(
                "create or replace table intermediate.int_programme_unit_years as "
                "select unit_code, year, true as is_evaluated from marts.fct_city_score_year where is_evaluated"
            )
        if _has(con, "marts", "fct_programme_membership"):
            # the acceptance score reads the roster from the intermediate layer (the mart is built after it, to read
            # its ban flag); the published mart holds the same rows
            if _has_column(con, "marts", "fct_programme_membership", "numbers_pilot_rounds"):
                con.execute(
                    "create or replace table intermediate.int_programme_memberships as "
                    "select *, programme_name_zh as programme from marts.fct_programme_membership"
                )
            else:
                # a snapshot published before the roster carried it: which programmes number pilot rounds is the
                # calendar seed's (programme_calendar.numbers_pilot_rounds), the one definition the models read
                calendar = pl.read_csv(
                    settings.DBT_PROJECT_DIR / "seeds" / "programme_calendar.csv", infer_schema=False
                ).select("programme_code", "cohort", pl.col("numbers_pilot_rounds").str.to_lowercase() == "true")
                con.register("programme_calendar_seed", calendar)
                con.execute(
                    "create or replace table intermediate.int_programme_memberships as "
                    "select m.*, m.programme_name_zh as programme, "
                    "coalesce(c.numbers_pilot_rounds, false) as numbers_pilot_rounds "
                    "from marts.fct_programme_membership m left join programme_calendar_seed c "
                    "on c.programme_code = m.programme_code and c.cohort = m.cohort"
                )
                con.unregister("programme_calendar_seed")
    finally:
        con.close()


def _outcomes(db: Path) -> dict[str, pl.DataFrame]:
    """Ranks, stages, verdicts and acceptance bands of a database (snapshot or scratch)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {
            "rank": con.sql(
                "select s.unit_code, cast(s.year as varchar) as period, cast(s.rank as varchar) as value, "
                "cast(null as boolean) as is_robust, s.rank as rank_number, "
                + (
                    "u.p05_rank, u.p95_rank "
                    if _has(con, "marts", "fct_rank_uncertainty")
                    else "cast(null as double) as p05_rank, cast(null as double) as p95_rank "
                )
                + "from marts.fct_city_score_year s "
                + (
                    "left join marts.fct_rank_uncertainty u on u.unit_code = s.unit_code and u.year = s.year "
                    if _has(con, "marts", "fct_rank_uncertainty")
                    else ""
                )
                + "where s.rank is not null"
            ).pl(),
            "stage": con.sql(
                "select unit_code, cast(year as varchar) as period, stage as value, is_robust "
                "from marts.fct_evaluation_year"
            ).pl(),
            "verdict": con.sql(
                "select unit_code, cycle as period, verdict as value, is_robust from marts.fct_evaluation_cycle"
            ).pl(),
        }
        if _has(con, "marts", "fct_acceptance_score"):
            out["acceptance_band"] = con.sql(
                "select unit_code, cast(cycle_first_year as varchar) || '-' || cast(cycle_last_year as varchar) "
                "as period, acceptance_band as value, cast(null as boolean) as is_robust "
                "from marts.fct_acceptance_score"
            ).pl()
        names = con.sql("select unit_code, unit_name, province_code from marts.dim_city").pl()
        out["_names"] = names
        return out
    finally:
        con.close()


def compare_outcomes(base: dict[str, pl.DataFrame], scen: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per unit, period and kind whose outcome differs between the base and the scenario.

    robustness, a code of the labels seed's robustness set (pipelines.labels.robustness_code, as every other page
    says it): for stages and verdicts the scenario's own robustness flag (robust / not_robust), a change to a
    stage that raises no flag (normal, withdrawn) robustness_not_applicable; for ranks robust when the scenario
    rank lies outside the published 5-95 % rank interval (the move is larger than the methodology noise); without
    a flag or an interval (acceptance bands have no uncertainty runs) robustness_not_assessed. The page called
    every change to normal not assessed, where the evaluation pages call it not applicable (no flag raised), and
    the export wrote the codes "unknown" and "robust" under its Chinese header."""
    frames = []
    for kind in CHANGE_KINDS:
        if kind not in base or kind not in scen:
            continue
        b = base[kind].select(
            "unit_code",
            "period",
            base_value="value",
            **({"p05": "p05_rank", "p95": "p95_rank"} if kind == "rank" else {}),
        )
        s = scen[kind].select("unit_code", "period", scenario_value="value", scenario_robust="is_robust")
        j = b.join(s, on=["unit_code", "period"], how="full", coalesce=True).filter(
            pl.col("base_value").fill_null("") != pl.col("scenario_value").fill_null("")
        )
        if kind == "rank":
            rank = pl.col("scenario_value").cast(pl.Float64, strict=False)
            robust = (
                pl.when(pl.col("p05").is_null() | rank.is_null())
                .then(pl.lit("robustness_not_assessed"))
                .when((rank < pl.col("p05")) | (rank > pl.col("p95")))
                .then(pl.lit("robust"))
                .otherwise(pl.lit("not_robust"))
            )
            j = j.with_columns(robustness=robust).drop("p05", "p95")
        else:
            j = j.with_columns(
                robustness=pl.when(pl.col("scenario_robust"))
                .then(pl.lit("robust"))
                .when(pl.col("scenario_robust").not_())
                .then(pl.lit("not_robust"))
                .when(pl.col("scenario_value").is_in(list(ROBUSTNESS_NOT_APPLICABLE_TO)))
                .then(pl.lit("robustness_not_applicable"))
                .otherwise(pl.lit("robustness_not_assessed"))
            )
        frames.append(
            j.select(pl.lit(kind).alias("kind"), "unit_code", "period", "base_value", "scenario_value", "robustness")
        )
    if not frames:
        return pl.DataFrame(schema=_CHANGE_SCHEMA)
    names = scen["_names"]
    return (
        pl.concat(frames)
        .join(names, on="unit_code", how="left")
        .select(list(_CHANGE_SCHEMA))
        .sort("kind", "period", "unit_code", descending=[False, True, False])
    )


_CHANGE_SCHEMA = {
    "kind": pl.String,
    "unit_code": pl.String,
    "unit_name": pl.String,
    "province_code": pl.String,
    "period": pl.String,
    "base_value": pl.String,
    "scenario_value": pl.String,
    "robustness": pl.String,
}


def run_scenario(
    snapshot: Path, scenario: Scenario, *, n_runs: int = 200, work_dir: Path | None = None
) -> tuple[str, pl.DataFrame]:
    """Run ``scenario`` against the published ``snapshot``; returns (scenario_id, changes). The snapshot is only
    read; the scratch copy is deleted afterwards. One run at a time (``ScenarioBusy`` while another runs)."""
    with one_run_at_a_time(store_dir()):
        root = work_dir or store_dir() / "work"
        root.mkdir(parents=True, exist_ok=True)
        return _run_scenario(snapshot, scenario, n_runs, root)


def _run_scenario(snapshot: Path, scenario: Scenario, n_runs: int, root: Path) -> tuple[str, pl.DataFrame]:
    from pipelines.evaluation.uncertainty import run_uncertainty, write_rank_uncertainty

    scenario = validate_scenario(scenario, base_rules(snapshot))
    scenario_id = new_scenario_id()
    work = Path(tempfile.mkdtemp(prefix=f"scenario_{scenario_id}_", dir=root))
    try:
        scratch = work / "scenario.duckdb"
        shutil.copyfile(snapshot, scratch)
        rules_csv = work / "evaluation_rules.csv"
        _prepare(scratch, scenario, scenario_id, rules_csv)
        if scenario.pillar_weights:
            _dbt(SCORE_SELECT, scratch, work)
        # Robustness under the scenario's own rules (and weights): the project's uncertainty step, fewer runs.
        con = duckdb.connect(str(scratch))
        try:
            write_rank_uncertainty(con, run_uncertainty(con, n_runs=n_runs, rules_path=rules_csv))
        finally:
            con.close()
        _dbt(EVALUATION_SELECT, scratch, work)
        changes = compare_outcomes(_outcomes(snapshot), _outcomes(scratch))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return scenario_id, changes


# -- store --------------------------------------------------------------------------------------------------------


def store_dir() -> Path:
    """Writable folder beside the warehouse (never the snapshot's folder contents, never the warehouse file)."""
    return Path(os.environ.get("IPCITY_SCENARIOS", settings.warehouse_path().parent / "scenarios")).resolve()


def _store(path: Path | None = None) -> sqlite3.Connection:
    path = path or store_dir() / "scenarios.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    con.execute(
        "create table if not exists scenarios (scenario_id text primary key, name text not null, author text, "
        "created_at text not null, base_snapshot text, params text not null, n_changes integer, note text)"
    )
    con.execute(
        "create table if not exists scenario_changes (scenario_id text not null, kind text, unit_code text, "
        "unit_name text, province_code text, period text, base_value text, scenario_value text, robustness text)"
    )
    return con


def save_scenario(
    scenario_id: str,
    name: str,
    scenario: Scenario,
    changes: pl.DataFrame,
    *,
    author: str | None,
    base_snapshot: str,
    store: Path | None = None,
) -> str:
    name = (name or "").strip()[:100] or f"scenario {scenario_id}"
    con = _store(store)
    try:
        with con:
            # a saved scenario is its author's record: saving over it rewrites it only for that author (someone
            # else's Save of an opened scenario files a copy under a new id: scenario_owner, new_scenario_id)
            owner = con.execute("select author from scenarios where scenario_id = ?", [scenario_id]).fetchone()
            if owner is not None and owner[0] != author:
                raise ScenarioError(f"scenario {scenario_id} was saved by another account; save it as a copy")
            con.execute("delete from scenario_changes where scenario_id = ?", [scenario_id])
            con.execute("delete from scenarios where scenario_id = ?", [scenario_id])
            con.execute(
                "insert into scenarios values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    scenario_id,
                    name,
                    author,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    base_snapshot,
                    scenario.to_json(),
                    changes.height,
                    DISCLAIMER_EN,
                ],
            )
            con.executemany(
                "insert into scenario_changes values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(scenario_id, *row) for row in changes.select(list(_CHANGE_SCHEMA)).iter_rows()],
            )
    finally:
        con.close()
    return scenario_id


NOT_SAVED = object()  # scenario_owner's answer for an id the store does not hold


def scenario_owner(scenario_id: str, store: Path | None = None):
    """The author a saved scenario is filed under (None when saved without one); ``NOT_SAVED`` if not saved."""
    con = _store(store)
    try:
        row = con.execute("select author from scenarios where scenario_id = ?", [scenario_id]).fetchone()
    finally:
        con.close()
    return NOT_SAVED if row is None else row[0]


def new_scenario_id() -> str:
    return uuid.uuid4().hex[:12]


def list_scenarios(store: Path | None = None) -> pl.DataFrame:
    con = _store(store)
    try:
        rows = con.execute(
            "select scenario_id, name, author, created_at, n_changes from scenarios order by created_at desc"
        ).fetchall()
    finally:
        con.close()
    return pl.DataFrame(
        rows,
        schema={
            "scenario_id": pl.String,
            "name": pl.String,
            "author": pl.String,
            "created_at": pl.String,
            "n_changes": pl.Int64,
        },
        orient="row",
    )


def load_scenario(scenario_id: str, store: Path | None = None) -> tuple[dict, Scenario, pl.DataFrame]:
    con = _store(store)
    try:
        meta = con.execute(
            "select scenario_id, name, author, created_at, base_snapshot, params from scenarios where scenario_id = ?",
            [scenario_id],
        ).fetchone()
        if meta is None:
            raise KeyError(scenario_id)
        rows = con.execute(
            f"select {', '.join(_CHANGE_SCHEMA)} from scenario_changes where scenario_id = ?", [scenario_id]
        ).fetchall()
    finally:
        con.close()
    info = dict(zip(("scenario_id", "name", "author", "created_at", "base_snapshot"), meta[:5], strict=True))
    return info, Scenario.from_json(meta[5]), pl.DataFrame(rows, schema=_CHANGE_SCHEMA, orient="row")


def compare_scenarios(a: str, b: str, store: Path | None = None) -> pl.DataFrame:
    """Outcomes that differ from the base in either scenario, side by side."""
    _, _, ca = load_scenario(a, store)
    _, _, cb = load_scenario(b, store)
    key = ["kind", "unit_code", "unit_name", "period", "base_value"]
    return (
        ca.select(*key, value_a="scenario_value")
        .join(cb.select(*key, value_b="scenario_value"), on=key, how="full", coalesce=True)
        .with_columns(
            pl.col("value_a").fill_null(pl.col("base_value")), pl.col("value_b").fill_null(pl.col("base_value"))
        )
        .sort("kind", "period", "unit_code")
    )


# A change's robustness code as stored by earlier versions ("unknown" for no flag) in the labels seed's set.
_LEGACY_ROBUSTNESS = {"unknown": "robustness_not_assessed"}
# The kinds of change whose values are codes of the labels seed (a rank is a number).
_WORDED_KINDS = ("stage", "verdict", "acceptance_band")


def robustness_of_change(code: str | None) -> str:
    """A stored change's robustness as a code of the labels seed's robustness set (pure)."""
    return _LEGACY_ROBUSTNESS.get(code or "unknown", code or "robustness_not_assessed")


def changes_in_words(changes: pl.DataFrame, lang: str) -> pl.DataFrame:
    """The change list with its kinds, stage/verdict/band values and robustness in the reader's words (labels seed;
    the kinds' names from the dashboard's texts), as the page shows them: the Chinese export read "stage, normal,
    watch, unknown" under Chinese headers (pure)."""
    from dashboards.i18n import t

    def value(kind: str, v: str | None) -> str | None:
        return label_text(v, lang) if v is not None and kind in _WORDED_KINDS else v

    rows = [
        {
            **r,
            "kind": t(f"kind_{r['kind']}", lang),
            "base_value": value(r["kind"], r["base_value"]),
            "scenario_value": value(r["kind"], r["scenario_value"]),
            "robustness": label_text(robustness_of_change(r["robustness"]), lang),
        }
        for r in changes.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=changes.schema) if rows else changes


def export_changes(changes: pl.DataFrame, fmt: str, name: str = "", nature: DataNature | None = None) -> bytes:
    """The change list with Chinese headers and the disclaimer in every row, as CSV (UTF-8 BOM) or XLSX. Every
    row says whether the figures are synthetic (``nature``: the snapshot's, ``data_nature.nature_of``; without it
    the documented sample labels, never a claim that they are real); the workbook also has the note sheet and
    document properties."""
    nature = nature if nature is not None else DataNature()
    headers = {
        "kind": "变化类型",
        "unit_code": "行政区划代码",
        "unit_name": "城市",
        "province_code": "省级代码",
        "period": "年度/周期",
        "base_value": "现行结果",
        "scenario_value": "情景结果",
        "robustness": "稳健性",
    }
    out = (
        changes_in_words(changes.select(list(_CHANGE_SCHEMA)), "zh")
        .with_columns(pl.lit(name or "").alias("情景名称"), pl.lit(DISCLAIMER_ZH).alias("说明"))
        .rename(headers)
    )
    out = with_provenance_column(out, nature)
    # Unit names come from data and the scenario name from the user: in the CSV and in the XLSX alike, text that
    # would start a formula gets an apostrophe (a string cell is inert until someone edits and re-enters it).
    from dashboards.security import neutralise_cell, neutralise_text

    if fmt == "csv":
        return neutralise_text(out).write_csv().encode("utf-8-sig")
    if fmt == "xlsx":
        buf = io.BytesIO()
        import xlsxwriter

        wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
        props = nature.document_properties()
        # xlsxwriter writes dc:description from "comments"
        props["comments"] = props.pop("description")
        wb.set_properties({"title": f"{DISCLAIMER_ZH} / {DISCLAIMER_EN}", **props})
        ws = wb.add_worksheet("情景模拟")
        bold = wb.add_format({"bold": True})
        ws.write_string(0, 0, f"{DISCLAIMER_ZH} / {DISCLAIMER_EN}", bold)
        for j, c in enumerate(out.columns):
            ws.write_string(1, j, c, bold)
        for i, row in enumerate(out.iter_rows(), start=2):
            for j, v in enumerate(row):
                ws.write_string(i, j, neutralise_cell("" if v is None else str(v)))
        about = wb.add_worksheet("数据说明 About")  # after the data: a script reading the first sheet reads them
        for i, row in enumerate(nature.note_rows()):
            for j, v in enumerate(row):
                about.write_string(i, j, neutralise_cell(v))
        wb.close()
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}")
