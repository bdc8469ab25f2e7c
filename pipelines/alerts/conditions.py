"""Alert conditions: what is true now, read from the warehouse with the rules of rules.yaml.

Each function returns the conditions that currently hold; the lifecycle (pipelines/alerts/lifecycle.py) turns
a condition that appears into a firing alert, one that stays into an ongoing alert (never re-sent, unless
what it says within its subject changes: Condition.change_key) and one that disappears into a resolved alert. The subject of a condition never contains the evaluated year, so the
same lagging target is one alert across years, not a new one every year.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import duckdb

from pipelines.alerts.config import Routing, Rules
from pipelines.china_time import china_today
from pipelines.counts import count_en, count_zh
from pipelines.ingest.reason_labels import refusal_text
from pipelines.labels import FLAGGED_STAGES, RANGE_DASH, index_text, label_text
from pipelines.sources import SOURCES

# Status, stage and reporting labels come from the labels seed (dbt_project/seeds/labels.csv), the one place.
TARGET_STATUS_ZH = {code: label_text(code) for code in ("limited_progress", "deteriorating")}
# the stages an alert flags
# Every flagged stage (labels.FLAGGED_STAGES), not_reported included: not reporting within six months counts as exit,
# the dashboard's watch list puts it first, and the stage alert said nothing of it (only a source-reporting warning).
STAGE_ZH = {code: label_text(code) for code in FLAGGED_STAGES}
REPORTING_ZH = {
    code: label_text(code) for code in ("missing", "late", "not_reported", "none_received", "received_after_grace_end")
}
# A source's Chinese name from its contract (the title is read by officials: "培训活动", not "training_events").
SOURCE_ZH = {name: src.title_zh for name, src in SOURCES.items()}


@dataclass
class Condition:
    rule_id: str
    subject_key: str
    title_zh: str
    title_en: str
    unit_code: str | None = None
    unit_name: str | None = None
    province_code: str | None = None
    province_name: str | None = None
    year: int | None = None
    kind: str = "condition"  # condition | sanction | review | event
    severity: str = "warning"
    audience: str = "city"
    detail: dict = field(default_factory=dict)
    # What the condition says within its subject (a target's status, the year of a rank drop, an acceptance band):
    # when it changes while the alert is firing, that is a real change the recipients are told of (a new episode,
    # no resolution in between), where a mere update of the figures is not. None: no such state.
    change_key: str | None = None

    def detail_json(self) -> str:
        return json.dumps(self.detail, ensure_ascii=False, default=str, sort_keys=True)


def _reason(answer: str | None, limit: int = 320) -> str:
    """A receiver's answer as a notice quotes it: translated first, then cut (cut first, the Chinese table no longer
    knew the sentence and the reason stayed in English, ending mid-word), at ``limit`` characters with "…"."""
    text = answer or ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def _columns(con, schema: str, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }


def _rows(con, sql: str, params=None) -> list[dict]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


# Active programme cities with their province: every city rule is limited to them.
CITIES = """
select c.unit_code, c.unit_name, c.unit_name_en, c.province_code,
       coalesce(c.province_name, c.province_code) as province_name
from marts.dim_city c
where c.is_programme and coalesce(c.programme_status, 'active') <> 'withdrawn'
"""


def _who_en(r: dict) -> str:
    """A city as an English title names it: its English name and code ("Mianyang (510700)"); the code alone when
    the reference data give no English name."""
    return f"{r['unit_name_en']} ({r['unit_code']})" if r.get("unit_name_en") else str(r["unit_code"])


def _seed_param(con, rule_code: str, param: str, default: str) -> str:
    if not has_table(con, "marts", "evaluation_rules"):
        return default
    row = con.execute(
        "select cast(value as varchar) from marts.evaluation_rules where rule_code = ? and param = ?",
        [rule_code, param],
    ).fetchall()
    return row[0][0] if row else default


def _city(rule_id: str, r: dict, rules: Rules, **kw) -> Condition:
    return Condition(
        rule_id=rule_id,
        unit_code=r["unit_code"],
        unit_name=r["unit_name"],
        province_code=r["province_code"],
        province_name=r["province_name"],
        severity=kw.pop("severity", None) or rules.severity(rule_id),
        audience=rules.audience(rule_id),
        **kw,
    )


def target_behind(con, rules: Rules) -> list[Condition] | None:
    rule = rules.get("target_behind")
    if not rule or not has_table(con, "marts", "fct_target_status"):
        return None
    statuses = list(rule.get("statuses") or ["limited_progress", "deteriorating"])
    key_only = bool(rule.get("key_targets_only", True)) and "is_key_target" in _columns(
        con, "marts", "fct_target_status"
    )
    # the indicator's unit, so the figures read as on the dashboard (a ratio as 66.8%, not 0.6679)
    has_unit = bool(
        con.execute(
            "select 1 from information_schema.columns where table_schema = 'marts' and table_name = 'dim_indicator' "
            "and column_name = 'unit'"
        ).fetchall()
    )
    unit_sql = "max(unit)" if has_unit else "cast(null as varchar)"
    names = (
        f"left join (select indicator_code, max(name_zh) as name_zh, max(name_en) as name_en, {unit_sql} as unit "
        "from marts.dim_indicator group by indicator_code) i on i.indicator_code = t.indicator_code"
    )
    rows = _rows(
        con,
        f"""
        select c.*, t.plan_id, t.indicator_code, t.status, t.status_year as year, t.current_value,
               t.target_value, t.target_year, t.progress_index, t.growth_ratio, i.name_zh, i.name_en, i.unit
        from marts.fct_target_status t
        join ({CITIES}) c on c.unit_code = t.unit_code
        {names}
        where list_contains(?, t.status) {"and coalesce(t.is_key_target, false)" if key_only else ""}
          -- plans still running: a finished plan's last status is history, not something to act on
          and t.target_year >= coalesce(?, t.target_year)
        order by c.unit_code, t.plan_id, t.indicator_code
        """,
        [
            statuses,
            _latest_year(con, "fct_target_status_year") if has_table(con, "marts", "fct_target_status_year") else None,
        ],
    )
    out = []
    for r in rows:
        zh = TARGET_STATUS_ZH.get(r["status"], r["status"])
        # the figures behind the status, so the reader sees how far behind without opening the dashboard
        now, goal = _figure(r["current_value"], r["unit"], "zh"), _figure(r["target_value"], r["unit"], "zh")
        now_en, goal_en = _figure(r["current_value"], r["unit"], "en"), _figure(r["target_value"], r["unit"], "en")
        out.append(
            _city(
                "target_behind",
                r,
                rules,
                subject_key=f"{r['plan_id']}/{r['indicator_code']}",
                change_key=r["status"],  # limited progress → deteriorating: further behind, told
                year=r["year"],
                title_zh=f"{r['unit_name']}：{r['target_year']} 年目标“{r['name_zh'] or r['indicator_code']}”{zh}"
                f"（{r['year']} 年现值 {now}，目标值 {goal}）",
                title_en=f"{_who_en(r)}: {r['target_year']} target {r['name_en'] or r['indicator_code']} is "
                f"{label_text(r['status'], 'en').lower()} ({now_en} in {r['year']}, target {goal_en})",
                detail={
                    k: r[k]
                    for k in (
                        "plan_id",
                        "indicator_code",
                        "status",
                        "current_value",
                        "target_value",
                        "target_year",
                        "progress_index",
                        "growth_ratio",
                    )
                },
            )
        )
    return out


def _figure(v, unit: str | None = None, lang: str = "zh") -> str:
    """A value as a reader wants it in a message: in the indicator's unit as the dashboard shows it (a ratio in
    per cent with one decimal: the alert said 0.6679 where the target pages said 66.8%), thousands grouped, at
    most four significant digits below."""
    from dashboards.formatting import display_scale, is_ratio, unit_label

    if v is None:
        return "—"
    v = float(v) * display_scale(unit)
    text = f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.1f}" if is_ratio(unit) else f"{v:.4g}")
    shown = unit_label(unit, lang)
    if not shown:
        return text
    return f"{text}%" if shown == "%" else f"{text} {shown}"


def _latest_year(con, table: str) -> int | None:
    return con.execute(f"select max(year) from marts.{table}").fetchall()[0][0]


def _rank_shared(con) -> str:
    """fct_city_score_year.rank_is_shared (equal indices share a rank, 并列), null for marts built before it."""
    if "rank_is_shared" in _columns(con, "marts", "fct_city_score_year"):
        return "s.rank_is_shared"
    return "cast(null as boolean) as rank_is_shared"


def _shown_index(con) -> str:
    """The composite index an alert tells of: the published figure its rank and group were decided on
    (composite_index_published), never the double at 9 decimals beside a shared rank; the index itself for marts
    built before the published figure existed."""
    if "composite_index_published" in _columns(con, "marts", "fct_city_score_year"):
        return "s.composite_index_published as composite_index"
    return "s.composite_index"


def _tied(r: dict, lang: str) -> str:
    """ ", 并列" / ", tied" after a shared rank in an alert's title (labels seed), nothing otherwise."""
    if not r.get("rank_is_shared"):
        return ""
    return ("，" if lang == "zh" else ", ") + label_text("rank_shared", lang)


def _group_range(group: str, lang: str) -> str:
    """The composite-index range of a performance group, from the performance_bands seed (the one definition): "< x"
    for the lowest band (x the floor of the band above it), "≥ y 且 < x" / "≥ y and < x" for one in the middle; ""
    when the group is not a band."""
    from pipelines.labels import load_bands

    bands = load_bands()  # highest first
    at = next((i for i, b in enumerate(bands) if b.group_code == group), None)
    if at is None:
        return ""
    own, above = bands[at], (bands[at - 1] if at else None)
    parts = []
    if own.lower_bound is not None:
        parts.append(f"{'≥' if own.lower_bound_inclusive else '>'} {own.lower_bound:g}")
    if above is not None and above.lower_bound is not None:
        parts.append(f"{'<' if above.lower_bound_inclusive else '≤'} {above.lower_bound:g}")
    return (" 且 " if lang == "zh" else " and ").join(parts)


def bottom_group(con, rules: Rules) -> list[Condition] | None:
    if not rules.get("bottom_group") or not has_table(con, "marts", "fct_city_score_year"):
        return None
    group = _seed_param(con, "W1", "bottom_group", "emerging")
    year = _latest_year(con, "fct_city_score_year")
    rows = _rows(
        con,
        f"""select c.*, s.year, s.rank, s.n_ranked, {_rank_shared(con)}, s.performance_group, {_shown_index(con)}
            from marts.fct_city_score_year s join ({CITIES}) c on c.unit_code = s.unit_code
            where s.year = ? and s.performance_group = ? order by c.unit_code""",
        [year, group],
    )
    # the year released: the official verdict and, where current data differ, old → new (as the stage alert says)
    notes = _release_notes(con, year) if year is not None else {}
    return [
        _city(
            "bottom_group",
            r,
            rules,
            subject_key=f"group:{group}",
            year=r["year"],
            # the figure and the bound it is read against, so the reader can check it: "in the bottom group" alone
            # named neither the index nor the band's bound
            title_zh=f"{r['unit_name']}：{r['year']} 年处于末位组（综合指数 {index_text(r['composite_index'])}，"
            f"末位组为综合指数 {_group_range(group, 'zh')}；第 {r['rank']}/{r['n_ranked']} 名{_tied(r, 'zh')}）"
            + _released_suffix(notes, r["unit_code"], "zh"),
            title_en=f"{_who_en(r)}: bottom group in {r['year']} (composite index {index_text(r['composite_index'])}; "
            f"the bottom group is an index {_group_range(group, 'en')}; rank {r['rank']}/{r['n_ranked']}"
            f"{_tied(r, 'en')})" + _released_suffix(notes, r["unit_code"], "en"),
            detail={k: r[k] for k in ("year", "rank", "n_ranked", "performance_group", "composite_index")},
        )
        for r in rows
    ]


def rank_drop(con, rules: Rules) -> list[Condition] | None:
    rule = rules.get("rank_drop")
    if not rule or not has_table(con, "marts", "fct_city_score_year"):
        return None
    k = int(rule.get("max_rank_loss", 10))
    year = _latest_year(con, "fct_city_score_year")
    rows = _rows(
        con,
        f"""select c.*, s.year, s.rank, s.n_ranked, {_rank_shared(con)}, s.rank_change
            from marts.fct_city_score_year s join ({CITIES}) c on c.unit_code = s.unit_code
            where s.year = ? and s.rank_change < ? order by c.unit_code""",
        [year, -k],
    )
    notes = _release_notes(con, year) if year is not None else {}
    return [
        _city(
            "rank_drop",
            r,
            rules,
            subject_key="rank",
            change_key=str(r["year"]),  # a drop in another year is another drop, told (one alert while it lasts)
            year=r["year"],
            # the ranks before and after and the threshold (rules.yaml max_rank_loss), so the reader can check it
            title_zh=f"{r['unit_name']}：{r['year']} 年排名下降 {-r['rank_change']} 位（由第 {r['rank'] + r['rank_change']} 名"
            f"降至第 {r['rank']} 名{_tied(r, 'zh')}；下降超过 {k} 位即预警）"
            + _released_suffix(notes, r["unit_code"], "zh"),
            title_en=f"{_who_en(r)}: lost {-r['rank_change']} ranks in {r['year']} (from {r['rank'] + r['rank_change']} "
            f"to {r['rank']}{_tied(r, 'en')}; alerted above a loss of {k})"
            + _released_suffix(notes, r["unit_code"], "en"),
            detail={k2: r[k2] for k2 in ("year", "rank", "n_ranked", "rank_change")} | {"max_rank_loss": k},
        )
        for r in rows
    ]


def _stage_rank(kind: str, stage: str) -> int:
    """How grave a stage alert is: the stage's place in labels.FLAGGED_STAGES (written from the mildest, watch, to the
    gravest, not_reported), a flag on robust evidence (sanction) above the same flag awaiting a human review."""
    return 2 * FLAGGED_STAGES.index(stage) + (kind == "sanction") if stage in FLAGGED_STAGES else -1


def _stage_label(kind: str, stage: str, lang: str) -> str:
    text = label_text(stage, lang)
    if kind == "review" and stage != "review":  # a flag on non-robust evidence: it awaits the review
        text += f"（{label_text('review')}）" if lang == "zh" else f" ({label_text('review', 'en').lower()})"
    return text


def describe_change(rule_id: str, change_key: str | None) -> tuple[str, str, int | None] | None:
    """What a condition's state (Condition.change_key) reads as, in Chinese and English, and how grave it is (higher
    is graver; None when the states of the rule are not ordered, as two years' rank drops): what a notice of a change
    says it changed from and whether that is worse or better. None for a rule without states or a key it cannot read
    (an older store's)."""
    if not change_key:
        return None
    if rule_id == "stage":
        kind, _, st = change_key.partition(":")
        if st not in FLAGGED_STAGES:
            return None
        return _stage_label(kind, st, "zh"), _stage_label(kind, st, "en"), _stage_rank(kind, st)
    if rule_id == "target_behind":
        order = ("acceleration_needed", "limited_progress", "deteriorating")
        rank = order.index(change_key) if change_key in order else None
        return label_text(change_key), label_text(change_key, "en").lower(), rank
    if rule_id == "source_reporting":
        # received late < not received yet < never within the grace period (counts as exit)
        order = ("late", "missing", "not_reported")
        rank = order.index(change_key) if change_key in order else None
        return label_text(change_key), label_text(change_key, "en").lower(), rank
    if rule_id == "acceptance_band":
        cycle, _, band = change_key.partition(":")
        cycle = cycle.replace("-", RANGE_DASH)  # the key's years, written as every text writes a range
        order = ("new_pilot_round", "title_removed")
        rank = order.index(band) if band in order else None
        return f"{cycle} {label_text(band)}", f"{cycle} {label_text(band, 'en').lower()}", rank
    if rule_id == "rank_drop":
        return f"{change_key} 年", change_key, None
    return None


def _stage_deadlines(con) -> dict[tuple[str, int], str | None]:
    """(unit, data year) -> the last day its reports of that year count (fct_reporting_status.grace_end_date, the
    earliest of its sources), where the mart has it; None when every source of the year has been received (no
    deadline left to name)."""
    if not has_table(con, "marts", "fct_reporting_status") or "grace_end_date" not in _columns(
        con, "marts", "fct_reporting_status"
    ):
        return {}
    from pipelines.evaluation.rules import REPORT_DEADLINES_SQL

    # the deadline of the one query the dashboard and the extract read (REPORT_DEADLINES_SQL)
    rows = con.execute(
        f"select d.unit_code, d.year, cast(d.report_grace_end_date as varchar), a.all_in from ({REPORT_DEADLINES_SQL}) d "
        "join (select unit_code, year, min(case when status in ('received', 'late') then 1 else 0 end) as all_in "
        "from marts.fct_reporting_status where grace_end_date is not null group by unit_code, year) a "
        "on a.unit_code = d.unit_code and a.year = d.year"
    ).fetchall()
    return {(u, int(y)): (None if all_in else d) for u, y, d, all_in in rows}


def _stage_deadline_text(kind: str, st: str, r: dict, known: dict, lang: str) -> str:
    """The deadline a stage alert's recipient acts by, where the rules define one (the rules seed, RPT.grace_months:
    reports not received within six months of the year end count as exit), in China Standard Time, the whole day
    counting: for a flagged city the reports of the next year; for not_reported the day that has passed. The rules
    set no term for a rectification (the guidance: 督促整改，直至取消资格): its consequence is named instead, rule
    X1 (still not improved in the next cycle: exit candidate)."""
    from pipelines.evaluation.rules import report_grace_end

    year = int(r["year"])
    data_year = year if st == "not_reported" else year + 1
    key = (r["unit_code"], data_year)
    day = known[key] if key in known else report_grace_end(data_year).isoformat()
    if st == "not_reported":
        day = day or report_grace_end(data_year).isoformat()
        return (
            f"（{data_year} 年度数据未在 {day}（北京时间，含当日）前报送，视为退出）"
            if lang == "zh"
            else f" (the reports of {data_year} were not received by {day} inclusive, China Standard Time: counts as "
            "exit)"
        )
    text = ""
    if day is not None:  # (None: every report of the year is in, no deadline left to name)
        text = (
            f"；{data_year} 年度数据须于 {day}（北京时间，含当日）前报送，逾期视为退出"
            if lang == "zh"
            else f"; the reports of {data_year} must be received by {day} inclusive, China Standard Time, or it "
            "counts as exit"
        )
    if kind == "sanction" and st == "rectification":
        text += (
            "；整改无固定期限，下一周期仍未改善的列为退出候选（规则 X1）"
            if lang == "zh"
            else "; rectification has no fixed term: not improved in the next cycle makes it an exit candidate (rule X1)"
        )
    if not text or lang == "en":
        return text
    return f"（{text[1:]}）"


def _released_suffix(notes: dict, unit_code: str, lang: str) -> str:
    """An alert title's clause naming the official verdict of its year (``_release_notes``), "" when not released."""
    note = notes.get(unit_code)
    if not note:
        return ""
    return f"（{note[lang]}）" if lang == "zh" else f" ({note[lang]})"


def _release_notes(con, year: int) -> dict[str, dict]:
    """unit -> the official verdict of ``year`` as released and, where the current marts differ, old → new
    (releases.release_verdict_text, the profile's and the dossier's wording) in both languages, with the release's
    id. After a release and then a restatement or a corrected file, the stage alert spoke of the current marts only:
    the city read a stage no published document held and could not tell which verdict was official. {} when the
    year has no release (a warehouse without the releases schema)."""
    from pipelines.evaluation.releases import (
        LATEST_FIRST,
        RELEASED_RANKS_SQL,
        release_verdict_text,
        released_under,
    )

    if not (has_table(con, "releases", "releases") and has_table(con, "releases", "evaluation_year")):
        return {}
    release = _rows(
        con, f"select * from releases.releases where evaluation_year = ? order by {LATEST_FIRST} limit 1", [year]
    )
    if not release:
        return {}
    release = release[0]
    # the released rank with its tie in the release (a release written before rank_is_shared holds it null)
    shared = (
        f"left join ({RELEASED_RANKS_SQL}) k on k.release_id = r.release_id and k.unit_code = r.unit_code"
        if has_table(con, "releases", "city_score_year")
        else "left join (select null as unit_code, cast(null as boolean) as rank_is_shared) k on false"
    )
    # whether the released flag was robust (a sanction) or awaited a review, for the stage alert of a city whose
    # released stage is flagged while its current one is not (null: a release table without the column)
    robust = "r.is_robust" if "is_robust" in _columns(con, "releases", "evaluation_year") else "cast(null as boolean)"
    released = _rows(
        con,
        f"""select r.unit_code, r.stage, r.composite_index, r.rank, r.n_ranked, k.rank_is_shared,
                   {robust} as is_robust
            from releases.evaluation_year r {shared} where r.release_id = ?""",
        [release["release_id"]],
    )
    current = {
        r["unit_code"]: r
        for r in _rows(
            con,
            # the figures of the score mart, the ones the release's city_score_year holds
            f"""select e.unit_code, e.stage, s.composite_index, s.rank, s.n_ranked, {_rank_shared(con)}
                from marts.fct_evaluation_year e
                left join marts.fct_city_score_year s on s.unit_code = e.unit_code and s.year = e.year
                where e.year = ?""",
            [year],
        )
    }
    # keyed by the current code: a city recoded since the release (seed unit_code_changes) finds its verdict under the
    # code it was released under (releases.released_under), and the text says so
    by_code = {r["unit_code"]: r for r in released}
    out = {}
    for code in sorted(set(by_code) | set(current)):
        r = released_under(by_code, code)
        if r is None:
            continue
        out[code] = {"release_id": release["release_id"], "released": r} | {
            lang: release_verdict_text(release, r, current.get(code), lang) for lang in ("zh", "en")
        }
    return out


def _released_acceptance(con) -> dict[tuple[str, int], dict]:
    """(unit code as released, cycle first year) -> the acceptance verdict of that cycle as last released (the latest
    release of the latest evaluation year holding the cycle) with its release: ``{"release": …, "released": …}``.
    {} without releases."""
    from pipelines.evaluation.releases import LATEST_FIRST

    if not (has_table(con, "releases", "releases") and has_table(con, "releases", "acceptance_score")):
        return {}
    releases = {r["release_id"]: r for r in _rows(con, "select * from releases.releases", [])}
    rows = _rows(
        con,
        f"""select * from (select a.*, r.evaluation_year as release_year from releases.acceptance_score a
                             join releases.releases r on r.release_id = a.release_id) as released
            order by release_year desc, {LATEST_FIRST}""",
        [],
    )
    out: dict[tuple[str, int], dict] = {}
    for r in rows:  # latest first: the first row of a (unit, cycle) is its official verdict
        out.setdefault((r["unit_code"], r["cycle_first_year"]), {"release": releases[r["release_id"]], "released": r})
    return out


def _official_acceptance(released: dict, unit_code: str, cycle_first_year) -> dict | None:
    """The released acceptance verdict of a unit's cycle (``_released_acceptance``) under its code, else under a code
    it replaced (seed unit_code_changes), marked as released under the old code (releases.recoded_text)."""
    from pipelines.evaluation.releases import former_codes

    hit = released.get((unit_code, cycle_first_year))
    if hit is not None:
        return hit
    for old, name in former_codes(unit_code):
        hit = released.get((old, cycle_first_year))
        if hit is not None:
            return hit | {"released": hit["released"] | {"released_unit_code": old, "released_unit_name": name}}
    return None


def stage(con, rules: Rules) -> list[Condition] | None:
    """One alert per city for its evaluation stage (subject "stage"): a city whose stage changes (watch →
    rectification, or back) is one alert that changes (Condition.change_key), told once as "from → to", never the
    earlier stage "resolved" beside the new one firing, which read as good news when the city got worse."""
    rule = rules.get("stage")
    if not rule or not has_table(con, "marts", "fct_evaluation_year"):
        return None
    stages = set(rule.get("stages") or FLAGGED_STAGES)
    cols = _columns(con, "marts", "fct_evaluation_year")
    robust = "e.is_robust" if "is_robust" in cols else "cast(null as boolean)"
    fired = "e.rules_fired" if "rules_fired" in cols else "cast(null as varchar)"
    year = _latest_year(con, "fct_evaluation_year")
    rows = _rows(
        con,
        f"""select c.*, e.year, e.stage, {robust} as is_robust, {fired} as rules_fired
            from marts.fct_evaluation_year e join ({CITIES}) c on c.unit_code = e.unit_code
            where e.year = ? order by c.unit_code""",
        [year],
    )
    known = _stage_deadlines(con)
    notes = _release_notes(con, year) if year is not None else {}
    out = []
    for r in rows:
        st = r["stage"]
        note = notes.get(r["unit_code"]) or {}
        # A city released flagged whose current stage is not (a corrected file since, a restatement pending): the
        # released stage is the official verdict, announced with the current figures beside it (old → new). Before,
        # it raised no alert at all, and the official verdict was never told where it mattered most.
        released_stage = (note.get("released") or {}).get("stage")
        official = st not in STAGE_ZH and st != "review" and released_stage in STAGE_ZH
        if official:
            st, r = released_stage, {**r, "is_robust": note["released"].get("is_robust")}
        # Only robust evidence raises a sanction alert; a flag on non-robust (or unassessed) evidence, or
        # the evaluation's own `review` stage, asks for a human review (人工复核) instead.
        # (not_reported is a fact of the ledger, not a statistical judgement: never a review)
        if st == "review" or (st in STAGE_ZH and st != "not_reported" and r["is_robust"] is not True):
            kind, shown = "review", "review"
        elif st in STAGE_ZH:
            kind, shown = "sanction", st
        else:
            continue
        if shown not in stages:
            continue
        flagged = STAGE_ZH.get(st, st)
        if official:
            # the verdict as released: the release clause below names the release and what the current data say
            title_zh = f"{r['unit_name']}：{r['year']} 年{label_text('official_verdict_release', 'zh')}为“{flagged}”"
            title_en = (
                f"{_who_en(r)}: {label_text('official_verdict_release', 'en')} “{label_text(st, 'en')}” in {r['year']}"
            )
        else:
            title_zh = (
                f"{r['unit_name']}：{r['year']} 年评价为“{flagged}”"
                if kind == "sanction"
                else f"{r['unit_name']}：{r['year']} 年“{flagged}”结论证据不稳健，需人工复核"
            )
            title_en = (
                f"{_who_en(r)}: stage “{label_text(st, 'en')}” in {r['year']}"
                if kind == "sanction"
                else f"{_who_en(r)}: “{label_text(st, 'en')}” in {r['year']} on non-robust evidence, needs review"
            )
        deadline = {lang: _stage_deadline_text(kind, st, r, known, lang) for lang in ("zh", "en")}
        # the year released: which release is the official verdict and, where current data differ, old → new
        released = {lang: _released_suffix(notes, r["unit_code"], lang) for lang in deadline}
        out.append(
            _city(
                "stage",
                r,
                rules,
                severity=rules.severity("stage", shown),
                kind=kind,
                subject_key="stage",
                change_key=f"{kind}:{st}",
                year=r["year"],
                title_zh=title_zh + deadline["zh"] + released["zh"],
                title_en=title_en + deadline["en"] + released["en"],
                detail={"year": r["year"], "stage": st, "is_robust": r["is_robust"], "rules_fired": r["rules_fired"]}
                | {"release_id": note.get("release_id"), "official_verdict": "released" if official else "current"},
            )
        )
    return out


def _grace_text(r: dict, lang: str) -> str:
    """For a report not yet received (missing) or never within the grace period (not_reported): the last day it
    counts, the day fct_reporting_status judges "not reporting within six months counts as exit" on (China
    Standard Time, the whole day counting). The alert named the due date only, three months earlier."""
    if r.get("status") not in ("missing", "not_reported") or not r.get("grace_end_date"):
        return ""
    if lang == "zh":
        return f"，宽限期至 {r['grace_end_date']}（北京时间，含当日），逾期视为退出"
    return f"; grace period to {r['grace_end_date']} inclusive, China Standard Time, then it counts as exit"


def source_reporting(con, rules: Rules) -> list[Condition] | None:
    """Missing / late sources from marts.fct_reporting_status (issue 10). No table yet: nothing to evaluate."""
    rule = rules.get("source_reporting")
    if not rule or not has_table(con, "marts", "fct_reporting_status"):
        return None
    statuses = list(rule.get("statuses") or ["missing", "late", "not_reported", "none_received"])
    n_years = int(rule.get("latest_years", 1))
    # the last day a missing report still counts (grace_end_date, China Standard Time): not_reported, counted as
    # exit, is judged on it, not on the due date (null for marts built before the column)
    grace = (
        "cast(r.grace_end_date as varchar)"
        if "grace_end_date" in _columns(con, "marts", "fct_reporting_status")
        else "cast(null as varchar)"
    )
    rows = _rows(
        con,
        f"""select c.*, r.source, r.year, r.status, cast(r.due_date as varchar) as due_date,
                   {grace} as grace_end_date, cast(r.received_date as varchar) as received_date,
                   coalesce(r.received_after_grace_end, false) as received_after_grace_end
            from marts.fct_reporting_status r join ({CITIES}) c on c.unit_code = r.unit_code
            where list_contains(?, r.status)
              -- the latest years each unit owes (not the table's): a unit whose membership ended with a year it
              -- never reported (not_reported counts as exit) owes nothing later, and a global window hid it
              and r.year > (select max(o.year) from marts.fct_reporting_status o where o.unit_code = r.unit_code) - ?
            order by c.unit_code, r.source, r.year""",
        [statuses, n_years],
    )
    return [
        _city(
            "source_reporting",
            r,
            rules,
            subject_key=f"{r['source']}:{r['year']}",
            change_key=r["status"],  # missing → late (received) or → not_reported (counts as exit): told
            year=r["year"],
            title_zh=f"{r['unit_name']}：{r['year']} 年{SOURCE_ZH.get(r['source'], r['source'])}数据"
            f"{REPORTING_ZH.get(r['status'], r['status'])}（应于 {r['due_date']} 前报送"
            + _grace_text(r, "zh")
            + (
                f"；{r['received_date']} {REPORTING_ZH['received_after_grace_end']}）"
                if r["received_after_grace_end"]
                else "）"
            ),
            title_en=f"{_who_en(r)}: {SOURCES[r['source']].title_en if r['source'] in SOURCES else r['source']} "
            f"{r['year']} is {label_text(r['status'], 'en').lower()} (due {r['due_date']}"
            + _grace_text(r, "en")
            + (
                f"; {label_text('received_after_grace_end', 'en').lower()} on {r['received_date']})"
                if r["received_after_grace_end"]
                else ")"
            ),
            detail={
                k: r[k]
                for k in (
                    "source",
                    "year",
                    "status",
                    "due_date",
                    "grace_end_date",
                    "received_date",
                    "received_after_grace_end",
                )
            },
        )
        for r in rows
    ]


def acceptance_band(con, rules: Rules) -> list[Condition] | None:
    """A unit whose acceptance score (fct_acceptance_score, the management measures' 验收评分) falls in a band that
    means it falls behind: below ACC.remove_below the title is removed, below ACC.cultivation_from a new pilot round.
    The band, the score (cut to two decimals, as the profile and the dossier show it) and the thresholds of the year
    it was judged in are the mart's and the rules seed's, so the alert reads as the dashboard's verdict does. One
    alert per unit, on its latest verdict (the latest cycle with a band): a band that changes (a third-party upload,
    a provisional cycle judged again, the next cycle's verdict) is a new notice of the same alert, one out of these
    bands resolves it; the current cycle still without a band (third-party evaluation pending) leaves the previous
    cycle's verdict standing, as it stands on the profile, rather than "resolving" it (an older one is history). A cycle still open (is_complete false) is marked provisional; an indicator-only
    score (third-party evaluation pending) says so; no band (third-party pending, no data) raises nothing."""
    from pipelines.evaluation.releases import release_acceptance_text
    from pipelines.evaluation.rules import acceptance_bands_text, acceptance_score_text, reapply_ban_notes

    rule = rules.get("acceptance_band")
    if not rule or not has_table(con, "marts", "fct_acceptance_score"):
        return None
    bands = list(rule.get("bands") or ["title_removed", "new_pilot_round"])
    # a title removed says until when the unit may not apply again, and a joining inside that ban (a mart built
    # before the columns existed has neither: nothing said)
    ban = ("reapply_ban_until", "rejoined_on", "rejoined_within_ban")
    has_ban = all(
        con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fct_acceptance_score' and column_name = ?",
            [c],
        ).fetchone()[0]
        for c in ban
    )
    ban_columns = ", ".join(f"a.{c}" if has_ban else f"null as {c}" for c in ban)
    # the pilot round judged and the office's rule on a second new-pilot-round score (a mart built before the
    # columns existed has none: nothing said)
    rounds = ("pilot_round", "max_pilot_rounds", "pilot_rounds_exhausted")
    has_rounds = all(
        con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fct_acceptance_score' and column_name = ?",
            [c],
        ).fetchone()[0]
        for c in rounds
    )
    ban_columns += ", " + ", ".join(f"a.{c}" if has_rounds else f"null as {c}" for c in rounds)
    rows = _rows(
        con,
        f"""select c.*, a.cycle, a.cycle_first_year, a.judged_year, a.is_complete, a.acceptance_status,
                   a.acceptance_score, a.acceptance_band, {ban_columns}
            from (select *, row_number() over (partition by unit_code order by cycle_first_year desc) as recency
                  from (select *, row_number() over (partition by unit_code order by cycle_first_year desc) as age
                        from marts.fct_acceptance_score) as s
                  -- the current cycle and the one before it: an older verdict, a cycle since passed, is history
                  where acceptance_band is not null and age <= 2) as a
            join ({CITIES}) c on c.unit_code = a.unit_code
            where a.recency = 1
            order by c.unit_code""",
        [],
    )
    released_verdicts = _released_acceptance(con)
    out = []
    for r in rows:
        hit = _official_acceptance(released_verdicts, r["unit_code"], r["cycle_first_year"])
        official = {
            lang: release_acceptance_text(hit["release"], hit["released"], r, lang) if hit else ""
            for lang in ("zh", "en")
        }
        released_band = hit["released"].get("acceptance_band") if hit else None
        if r["acceptance_band"] not in bands:
            # the current band is not one that falls behind, but the released one is: the released band is the
            # official verdict, announced with the current figures beside it (before: no alert at all)
            if released_band not in bands:
                continue
            r = r | {k: hit["released"].get(k) for k in ("acceptance_score", "acceptance_band")}
        score, band = acceptance_score_text(r["acceptance_score"]), r["acceptance_band"]
        notes = {
            lang: [label_text("indicator_only", lang)] * (r["acceptance_status"] == "indicator_only")
            + [label_text("acceptance_provisional", lang)] * (not r["is_complete"])
            + reapply_ban_notes(r, lang)
            for lang in ("zh", "en")
        }
        year = r["judged_year"]
        out.append(
            _city(
                "acceptance_band",
                r,
                rules,
                severity=rules.severity("acceptance_band", band),
                subject_key="acceptance",
                # a new pilot round → title removed, or a new cycle's verdict: one change, not a "resolved" verdict
                # a key, not a text: the cycle in the spelling stores kept before the marts wrote the range dash,
                # so the new spelling does not tell every city's band again as a change
                # a joining inside the re-application ban, found later, is news the office must act on: told again
                change_key=f"{r['cycle'].replace(RANGE_DASH, '-')}:{band}"
                + (":rejoined_within_ban" if r["rejoined_within_ban"] else ""),
                year=year,
                # the cycle released: the official verdict (release, score and band as released and, where current
                # data differ, old → new), worded as the dossier words it (releases.release_acceptance_text)
                title_zh=f"{r['unit_name']}：{r['cycle']} 周期验收评分 {score}，{label_text(band)}"
                f"（{acceptance_bands_text('zh', year)}"
                + "".join(f"；{n}" for n in notes["zh"])
                + "）"
                + (f"（{official['zh']}）" if official["zh"] else ""),
                title_en=f"{_who_en(r)}: acceptance score {score} for the cycle {r['cycle']}, "
                f"{label_text(band, 'en').lower()} ({acceptance_bands_text('en', year)}"
                + "".join(f"; {n.lower()}" for n in notes["en"])
                + ")"
                + (f" ({official['en']})" if official["en"] else ""),
                detail={
                    k: r[k] for k in ("cycle", "judged_year", "is_complete", "acceptance_status", "acceptance_score")
                }
                | {"release_id": hit["release"]["release_id"] if hit else None}
                | {k: None if r[k] is None else str(r[k]) for k in ("reapply_ban_until", "rejoined_on")}
                | {"rejoined_within_ban": bool(r["rejoined_within_ban"])}
                | {"status": band},
            )
        )
    return out


def _due_month(rule: dict, today: date) -> date:
    """The latest month whose pledge-loan statistics are due: the previous month after the due day, else the one
    before."""
    back = 1 if today.day > int(rule.get("due_day", 10)) else 2
    m = today.year * 12 + today.month - 1 - back
    return date(m // 12, m % 12 + 1, 1)


def pledge_freshness_cleared(con, rules: Rules, today: date | None = None) -> dict[str, dict]:
    """What a pledge-freshness alert's resolution says, by fingerprint: the month's statistics arrived, or they still
    have not and a later month is now the one due (the alert follows the month due, so the month before "resolved"
    when the calendar moved on: "已解除" told a province office its missing month was settled)."""
    from pipelines.alerts.store import fingerprint

    rule = rules.get("pledge_freshness")
    if not rule or not has_table(con, "raw", "pledge_loans") or not has_table(con, "marts", "dim_city"):
        return {}
    due = _due_month(rule, today or china_today())
    months = [
        date((due.year * 12 + due.month - 1 - k) // 12, (due.year * 12 + due.month - 1 - k) % 12 + 1, 1)
        for k in range(0, 7)
    ]
    rows = _rows(
        con,
        f"""with provinces as (select distinct province_code from ({CITIES}))
            select p.province_code, m.month, count(l.city_code) as n
            from provinces p cross join (select unnest(?) as month) m
            left join marts.dim_city c on c.province_code = p.province_code
            left join raw.pledge_loans l on l.city_code = c.unit_code and cast(l.month as date) = m.month
            group by all""",
        [months],
    )
    out: dict[str, dict] = {}
    any_arrived: dict[str, int] = {}
    for r in rows:
        month = r["month"].strftime("%Y-%m")
        any_arrived[month] = any_arrived.get(month, 0) + int(r["n"])
        out[fingerprint("pledge_freshness", r["province_code"], f"pledge_loans:{month}")] = _pledge_note(
            month, int(r["n"]), due
        )
    for month, n in any_arrived.items():
        out[fingerprint("pledge_freshness", None, f"pledge_loans:{month}")] = _pledge_note(month, n, due)
    return out


def _pledge_note(month: str, rows: int, due: date) -> dict:
    if rows:
        return {
            "zh": f"{month} 数据已送达（{count_zh(rows, '行')}）",
            "en": f"the statistics for {month} have arrived ({count_en(rows, 'row')})",
        }
    return {
        "zh": f"{month} 数据仍未送达；应报月份已更替为 {due:%Y-%m}，此后按该月跟踪",
        "en": f"the statistics for {month} have still not arrived; {due:%Y-%m} is now the month due and is followed "
        "instead",
    }


def pledge_freshness(con, rules: Rules, today: date | None = None) -> list[Condition] | None:
    """A province whose monthly pledge-loan statistics for the previous month have not arrived by the due day,
    while other provinces' have (when none have, the whole source is late: one data-engineer alert)."""
    rule = rules.get("pledge_freshness")
    if not rule or not has_table(con, "raw", "pledge_loans") or not has_table(con, "marts", "dim_city"):
        return None
    # the day in China (the due day is an office's day), not the machine's: on a server on UTC the 11th began 8 hours late
    today = today or china_today()
    due_month = _due_month(rule, today)
    rows = _rows(
        con,
        f"""with provinces as (select distinct province_code, province_name from ({CITIES}))
            select p.province_code, p.province_name,
                   max(cast(l.month as date)) as latest_month,
                   count(*) filter (where cast(l.month as date) = ?) as due_rows
            from provinces p
            left join marts.dim_city c on c.province_code = p.province_code
            left join raw.pledge_loans l on l.city_code = c.unit_code
            group by all order by p.province_code""",
        [due_month],
    )
    reported = [r for r in rows if r["due_rows"]]
    month = due_month.strftime("%Y-%m")
    if not reported:
        latest = max((r["latest_month"] for r in rows if r["latest_month"]), default=None)
        return [
            Condition(
                rule_id="pledge_freshness",
                audience="engineering",
                severity=rules.severity("pledge_freshness"),
                subject_key=f"pledge_loans:{month}",
                title_zh=f"质押融资月度数据：{month} 数据应于次月 {rule.get('due_day', 10)} 日前报送，至今无任何省份报送（最新月份 {latest}）",
                title_en=f"pledge_loans: no province has delivered {month}, due by day {rule.get('due_day', 10)} of the next month (latest {latest})",
                detail={"due_month": month, "latest_month": str(latest), "as_of": str(today)},
            )
        ]
    return [
        Condition(
            rule_id="pledge_freshness",
            audience=rules.audience("pledge_freshness"),
            severity=rules.severity("pledge_freshness"),
            unit_code=r["province_code"],
            unit_name=r["province_name"],
            province_code=r["province_code"],
            province_name=r["province_name"],
            subject_key=f"pledge_loans:{month}",
            title_zh=f"{r['province_name']}：{month} 质押融资月度数据未按期（每月 {rule.get('due_day', 10)} 日前）报送",
            title_en=f"{r['province_code']}: pledge-loan statistics for {month} not received by day {rule.get('due_day', 10)}",
            detail={"due_month": month, "latest_month": str(r["latest_month"]), "as_of": str(today)},
        )
        for r in rows
        if not r["due_rows"]
    ]


def landing_file_refused(con, rules: Rules) -> list[Condition] | None:
    """Landing files whose latest attempt was refused (status failed); resolved once a later version loads."""
    if not rules.get("landing_file_refused") or not has_table(con, "raw", "ingested_files"):
        return None
    rows = _rows(
        con,
        """select source, file_name, file_hash, status, message, cast(ingested_at as varchar) as ingested_at, run_id
           from (select *, row_number() over (partition by source, file_name order by ingested_at desc nulls last)
                 as recency from raw.ingested_files) where recency = 1 and status = 'failed'
           order by source, file_name""",
    )
    return [
        Condition(
            rule_id="landing_file_refused",
            audience="engineering",
            severity=rules.severity("landing_file_refused"),
            subject_key=f"{r['source']}/{r['file_name']}",
            title_zh=f"落地文件被拒收：{r['source']}/{r['file_name']} — "
            f"{refusal_text(r['message'], 'zh', r['source'])[:200]}",
            title_en=f"landing file refused: {r['source']}/{r['file_name']} — {(r['message'] or '')[:200]}",
            detail={k: r[k] for k in ("source", "file_name", "file_hash", "message", "ingested_at", "run_id")},
        )
        for r in rows
    ]


def landing_file_cleared(con) -> dict[str, dict]:
    """What cleared each landing file's refusal (subject ``source/file``), for the resolution its recipients read: a
    corrected file loaded (when, rows loaded and quarantined), the same file loaded once the loader or the reference
    data were mended, or the file withdrawn from the landing folder. "已解除" alone did not say whether the data were
    corrected or the file only went away. Keyed by the alert's fingerprint; {"zh", "en"} each."""
    from pipelines.alerts.store import fingerprint
    from pipelines.china_time import china_time_text

    if not has_table(con, "raw", "ingested_files"):
        return {}
    rows = _rows(
        con,
        """select source, file_name, status, rows_loaded, rows_rejected, cast(ingested_at as varchar) as ingested_at,
                  file_hash,
                  (select f.file_hash from raw.ingested_files f where f.source = latest.source
                     and f.file_name = latest.file_name and f.status = 'failed'
                     order by f.ingested_at desc nulls last limit 1) as refused_hash
           from (select *, row_number() over (partition by source, file_name order by ingested_at desc nulls last)
                 as recency from raw.ingested_files) as latest
           where recency = 1 and status <> 'failed'""",
    )
    out = {}
    for r in rows:
        at_zh, at_en = china_time_text(r["ingested_at"], "zh"), china_time_text(r["ingested_at"], "en")
        loaded, rejected = int(r["rows_loaded"] or 0), int(r["rows_rejected"] or 0)
        if r["status"] == "loaded" and r["refused_hash"] and r["file_hash"] == r["refused_hash"]:
            note = {
                "zh": f"同一文件（内容未改）已于 {at_zh} 载入成功：载入规则或参考数据已更正，"
                f"载入{count_zh(loaded, '行')}、隔离{count_zh(rejected, '行')}",
                "en": f"the same file (unchanged) loaded {at_en}, the loading rules or reference data mended: "
                f"{count_en(loaded, 'row')} loaded, {rejected:,} quarantined",
            }
        elif r["status"] == "loaded":
            note = {
                "zh": f"更正后的文件已于 {at_zh} 载入，数据已更正：载入{count_zh(loaded, '行')}、隔离{count_zh(rejected, '行')}",
                "en": f"a corrected file loaded {at_en}, the data corrected: "
                f"{count_en(loaded, 'row')} loaded, {rejected:,} quarantined",
            }
        elif r["status"] == "withdrawn":
            note = {
                "zh": f"该文件已于 {at_zh} 从落地目录移除并撤回：未载入其数据，并非已更正",
                "en": f"the file was removed from the landing folder and withdrawn {at_en}: its data are not loaded, "
                "not corrected",
            }
        else:
            continue  # a state the rule's label words well enough
        out[fingerprint("landing_file_refused", None, f"{r['source']}/{r['file_name']}")] = note
    return out


def alert_routing_refused(routing: Routing, rules: Rules) -> list[Condition] | None:
    """Entries of the routing file the alert step left out (config.load_routing(strict=False)): one engineering
    alert per entry, telling the data engineers over the routes that remain; resolved once the file reads clean.
    The subject is the file and the entry, not its line, so editing the file elsewhere does not refire it."""
    if not rules.get("alert_routing_refused"):
        return None
    return [
        Condition(
            rule_id="alert_routing_refused",
            audience="engineering",
            severity=rules.severity("alert_routing_refused"),
            subject_key=f"{p.path}|{p.entry}",
            title_zh=f"预警路由配置被拒（该项未使用，其余照常发送）：{p}",
            title_en=f"alert routing refused (left out, the rest is used): {p}",
            detail={"file": str(p.path), "entry": p.entry, "line": p.line, "reason": p.reason},
        )
        for p in routing.problems
    ]


def delivery_failed(store, rules: Rules, routed=None) -> list[Condition] | None:
    """Recipients whose latest digest a receiver refused for good (alerts.messages status failed: 550 no such
    mailbox, a robot's key revoked): one engineering alert each, naming the recipient, the route and the receiver's
    answer. Such a digest was parked in the ledger and nobody was told, so a province office whose address is wrong
    heard nothing while everyone else did. Resolved once a later digest to it arrives (the address mended and the
    digest requeued), or once the routing file no longer names the recipient (``routed(route, channel, recipient)``
    false: an address removed or replaced, which no requeue will ever mend and no acknowledgement closes).
    ``store``: a connection to the alert store (alerts.messages), not the warehouse."""
    from pipelines.alerts.answers import answer_zh
    from pipelines.china_time import china_time_text

    if not rules.get("delivery_failed"):
        return None
    rows = store.execute(
        """SELECT route, channel, recipient, status, last_response, idempotency_key FROM (
             SELECT *, row_number() OVER (PARTITION BY route, channel, recipient
                                          ORDER BY created_at DESC, rowid DESC) AS n
             FROM alerts.messages WHERE coalesce(run_id, '') <> 'test')
           WHERE n = 1 AND status = 'failed' ORDER BY route, channel, recipient"""
    ).fetchall()
    # A channel whose credentials are refused (HTTP 401/403) is one alert for the channel, not one per digest: its
    # digests wait (none is parked), and what to mend is the channel's token. Resolved once the channel answers.
    channels = [
        Condition(
            rule_id="delivery_failed",
            audience="engineering",
            severity=rules.severity("delivery_failed"),
            subject_key=f"channel|{r['channel']}",
            title_zh=f"预警通道拒收：通道 {r['channel']} 的凭据被接收方拒绝（自 {china_time_text(r['since'], 'zh')} 起），"
            f"原因：{_reason(answer_zh(r['response']))}；其摘要按序等待，修正凭据后运行 "
            f"ipcity alerts retry --channel {r['channel']}",
            title_en=f"alert channel refusing: the receiver refuses the credentials of channel {r['channel']} (since "
            f"{china_time_text(r['since'], 'en')}): {_reason(r['response'])}; its digests wait in order, once the "
            f"credentials are mended run ipcity alerts retry --channel {r['channel']}",
            detail={"channel": r["channel"], "since": r["since"], "last_response": r["response"]},
        )
        for r in store.execute("SELECT channel, since, response FROM alerts.channel_refusals ORDER BY channel")
    ]
    return channels + [
        Condition(
            rule_id="delivery_failed",
            audience="engineering",
            severity=rules.severity("delivery_failed"),
            subject_key=f"{r['route']}|{r['channel']}|{r['recipient']}",
            title_zh=f"预警未送达：{r['recipient']}（路由 {r['route']}，通道 {r['channel']}）拒收，"
            f"原因：{_reason(answer_zh(r['last_response']))}；修正后运行 ipcity alerts deliver --retry-failed",
            title_en=f"alert not delivered: {r['recipient']} (route {r['route']}, channel {r['channel']}) refused it: "
            f"{_reason(r['last_response'])}; once mended run ipcity alerts deliver --retry-failed",
            detail={k: r[k] for k in ("route", "channel", "recipient", "last_response", "idempotency_key")},
        )
        for r in rows
        if routed is None or routed(r["route"], r["channel"], r["recipient"])
    ]


CITY_RULES = (target_behind, bottom_group, rank_drop, stage, acceptance_band, source_reporting)
WAREHOUSE_RULES = (*CITY_RULES, pledge_freshness, landing_file_refused)


def evaluate(
    con: duckdb.DuckDBPyConnection, rules: Rules, today: date | None = None, only: tuple = WAREHOUSE_RULES
) -> tuple[list[Condition], set[str]]:
    """Every warehouse-derived condition that holds now, and the rules that could be evaluated (enabled and
    their table present). Only for those does a missing condition mean resolved; events such as failed runs
    come from the sensors and never resolve by absence."""
    out: list[Condition] = []
    evaluated: set[str] = set()
    for fn in only:
        found = fn(con, rules, today) if fn is pledge_freshness else fn(con, rules)
        if found is not None:
            evaluated.add(fn.__name__)
            out.extend(found)
    return out, evaluated
