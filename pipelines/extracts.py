"""Provincial extracts: for every province and released evaluation year, its cities' indicators, scores, ranks,
groups, stages, target statuses and (when the mart exists) acceptance scores, as CSV (UTF-8 with BOM, Chinese
headers), XLSX (pyexcelerate through ``dashboards.xlsx``; a cover sheet, one sheet per table, a changes sheet) and Parquet (codes as column
names, values exactly as in the marts).

Extracts are versioned per province and year under ``<data>/extracts/<pp>/<year>/v<n>/``. A new version is written
only when the content or the release changes; it lists every row that changed since the previous version
("changes since vN": added, removed or changed rows with the changed columns' old and new values).
``<pp>/<year>/versions.json`` is the manifest the dashboard reads (and the only list of files it serves).
The workbook and CSV files of a re-version written by ``write_all`` (every earlier year changes when a new year moves
the window) are listed there with ``built_on_request`` and built on their first download (``ensure_file``), from the
version's Parquet files, and the re-versions' changes lists are computed once per year (``diff_year``): writing 310
versions whole, each with its own Python diff, made the eleventh year cost more than the year alone (issue 19).

Release metadata comes from ``release_info`` — the one place that reads ``releases.releases`` when the snapshot
has it (issue 10), and otherwise derives a version from ``meta.snapshot_info`` and the ingestion ledger.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import io
import json
import math
import multiprocessing.context as mp_context
import os
import re
import sys
import types
from pathlib import Path

import duckdb
import polars as pl

from pipelines import settings
from pipelines.china_time import china_time_both, utc_stamp
from pipelines.data_nature import DataNature, nature_of, properties, with_provenance_column
from pipelines.private_files import private_dirs, private_file, tighten_file, write_private_text

FORMATS = ("csv", "xlsx", "parquet")
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
# Extract tables: file stem, sheet name, key columns (a row's identity for the changes list).
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "indicators": ("指标数据", ("unit_code", "indicator_code")),
    "scores": ("得分排名与评价阶段", ("unit_code",)),
    "targets": ("目标完成情况", ("unit_code", "plan_id", "indicator_code")),
    "acceptance": ("验收得分", ("unit_code", "cycle_first_year", "cycle_last_year")),
}
CHANGES_SHEET = "较上一版本变更"
# Chinese headers for Excel users; a column not listed keeps its code name (new mart columns still come out).
HEADERS: dict[str, str] = {
    "year": "年份",
    "province_code": "省份代码",
    "province_name": "省份",
    "unit_code": "行政区划代码",
    "unit_name": "城市",
    "level": "行政级别",
    "is_programme": "示范/试点城市",
    "pillar_code": "一级指标代码",
    "pillar_name_zh": "一级指标",
    "indicator_code": "指标代码",
    "name_zh": "指标名称",
    "unit": "计量单位",
    "raw_value": "原始值",
    "value": "采用值",
    "is_imputed": "是否补值",
    "is_missing": "是否缺失",
    "is_outlier": "是否异常值",
    "normalised_score": "标准化得分",
    "catalog_version": "指标体系版本",
    "score_mgt": "管理能力得分",
    "score_pro": "大保护得分",
    "score_utl": "运用得分",
    "score_qlt": "质量得分",
    "score_env": "发展环境得分",
    "composite": "综合得分",
    "composite_index": "综合指数",
    "indicator_coverage": "指标覆盖率",
    "rank": "排名",
    "n_ranked": "参评城市数",
    "rank_is_shared": "是否并列排名",
    "rank_all": "全部城市排名",
    "rank_all_is_shared": "全部城市排名是否并列",
    "performance_group": "绩效分组",
    "performance_group_all": "绩效分组（全部城市）",
    "group_third": "三分位组",
    "index_change": "指数变化",
    "rank_change": "排名变化",
    "is_ranked": "是否参与排名",
    "stage": "评价阶段",
    "rules_fired": "触发规则（英文）",
    "rules_fired_zh": "触发规则",
    "is_robust": "结论是否稳健",
    # why a verdict is robust or not, never a bare empty cell (labels seed, set robustness)
    "robustness": "稳健性说明",
    "median_rank": "排名中位数",
    "p05_rank": "排名5%分位",
    "p95_rank": "排名95%分位",
    "rules_version": "规则版本",
    "not_reported_sources": "宽限期内未报送的数据",
    "counts_as_exit": "视为退出",
    "report_grace_end_date": "本年度数据报送截止日（北京时间，含当日）",
    # issue 10: a released year's scores sheet shows the as-released verdict beside the current figures
    "released_stage": "发布时评价阶段",
    "released_composite_index": "发布时综合指数",
    "released_rank": "发布时排名",
    "released_rank_is_shared": "发布时排名是否并列",
    "differs_from_release": "当前数据与发布不同",
    # a city recoded since the release (unit_code_changes): the code its released verdict stands under
    "released_unit_code": "发布时行政区划代码",
    "released_acceptance_score": "发布时验收得分",
    "released_acceptance_band": "发布时验收结论",
    "released_cycle_verdict": "发布时周期结论",
    "cycle_verdict_revision": "周期结论发布后变更",
    "released_cycle_judged_by": "发布时周期结论评定依据",
    # the current cycle verdict's evidence and what judged it (rules, group, catalogues compared), as the dossier and
    # the profile show them: the sheet named the verdict and nothing a city could check it against
    "cycle_evidence": "周期结论依据",
    "cycle_judged_by": "周期结论评定依据",
    "plan_id": "建设方案",
    "baseline_year": "基期年份",
    "baseline_value": "基期值",
    "target_year": "目标年份",
    "target_value": "目标值",
    "current_year": "当前年份",
    "current_value": "当前值",
    "is_key_target": "是否关键目标",
    "progress": "进度",
    "growth_ratio": "增速比",
    "status": "目标状态",
    "cycle_first_year": "周期起始年",
    "cycle_last_year": "周期结束年",
    "acceptance_score": "验收得分",
    "acceptance_band": "验收结论",
    "acceptance_scored": "是否作验收评定",
    # issue 17: the acceptance score combines the indicator-based and the third-party scores
    "acceptance_status": "验收评分状态",
    "indicator_score": "指标得分",
    "third_party_status": "第三方评估状态",
    "third_party_score": "第三方评估得分",
    "third_party_weight": "第三方评估权重",
    "third_party_evaluator": "第三方评估机构",
    "third_party_report_version": "第三方评估报告版本",
    "targets_unambitious": "缺乏雄心目标数",
    # a title removed at acceptance: the re-application ban (ACC.reapply_ban_years) and a joining inside it
    "title_removed_on": "撤销称号日期",
    "reapply_ban_until": "不得再申报截止日期",
    "rejoined_on": "再次入选日期",
    "rejoined_within_ban": "不得再申报期间再次入选",
    "reapply_ban_years": "不得再申报年限",
    # the pilot round judged (第N轮试点) and the office's rule on a second new-pilot-round score (ACC.max_pilot_rounds)
    "pilot_round": "所评试点轮次",
    "max_pilot_rounds": "最多试点轮数",
    "pilot_rounds_exhausted": "试点轮次已满撤销称号",
    "unambitious_weight": "缺乏雄心目标权重",
    "cycle_verdict_status": "周期结论状态",
    # columns the marts gained after the list above was written: a provincial official read them in English
    "peer_group": "比较组",
    "capped_value": "截尾后值",
    "is_sqrt_transformed": "是否平方根变换",
    "transformed_value": "变换后值",
    "programme_average_composite": "示范/试点城市平均综合得分",
    "is_evaluated": "是否参评",
    "progress_index": "进展指数",
    "growth_basis": "增速计算方法",
    "projected_value": "按现速度目标年预计值",
    "cycle": "评价周期",
    # the year the cycle is judged in (empty while it runs), and the year of the data the score to date reads
    "judged_year": "评定年份",
    "scored_year": "评分依据年份",
    "is_complete": "周期是否已完成评价",
    "target_points": "目标得分",
    "targets_evaluable": "可评估目标数",
    "level_points": "水平得分",
    "level_indicators": "水平对标指标数",
    "level_detail": "对标明细（本市/全国=得分）",
    "level_indicators_missing": "无数据未计入水平得分的指标",
    "benchmark_year": "全国对标年份",
    "benchmark_lag_years": "全国对标年份滞后年数",
    "benchmark_before_cycle": "全国对标年份早于本周期",
    "qlt01_value": "每万人口发明专利拥有量",
    "qlt01_national": "全国每万人口发明专利拥有量",
    "target_weight": "目标得分权重",
    "level_weight": "水平得分权重",
    "cycle_verdict": "周期结论",
    # provenance of an indicator value (dashboards/provenance.py)
    "formula_text": "计算公式",
    "inputs_text": "输入数据",
    "source_rows_text": "来源文件与行号",
}
CHANGE_HEADERS = {
    "table": "数据表",
    "change": "变更类型",
    "unit_code": "行政区划代码",
    "unit_name": "城市",
    "row_key": "行标识",
    "columns": "变更字段",
    "old_values": "原值",
    "new_values": "新值",
}
CHANGE_LABELS = {"added": "新增", "removed": "删除", "changed": "修改"}
# The codes the marts store, in words in the CSV and XLSX (a provincial office reads 整改, not rectification, and 是/否,
# not true/false); the Parquet keeps the codes, exactly as in the marts. Column -> its list in the labels seed.
VALUE_LABEL_SETS = {
    "level": "unit_level",
    "peer_group": "peer_group",
    "performance_group": "performance_group",
    "performance_group_all": "performance_group",
    "group_third": "group_third",
    "stage": "stage",
    "robustness": "robustness",
    "released_stage": "stage",
    "cycle_verdict": "verdict",
    "released_cycle_verdict": "verdict",
    "status": "target_status",
    "growth_basis": "growth_basis",
    "acceptance_band": "acceptance_band",
    "released_acceptance_band": "acceptance_band",
    "acceptance_status": "acceptance_status",
    "cycle_verdict_status": "verdict_status",
    "third_party_status": "third_party_status",
}
EVALUATION_COLUMNS = (
    "stage",
    "rules_fired",
    "is_robust",
    "robustness",
    "median_rank",
    "p05_rank",
    "p95_rank",
    "rules_version",
    # not reporting within the grace period counts as exit (stage not_reported): the sources and the verdict, as the
    # dashboard and the alert say them
    "not_reported_sources",
    "counts_as_exit",
)
# Relative tolerance for "changed": a rebuild of the same inputs may differ in the last bits of a float sum.
REL_TOL = 1e-9


def extracts_dir(warehouse: Path | None = None) -> Path:
    return (Path(warehouse).parent if warehouse else settings.data_dir()) / "extracts"


# ---- what a release is ---------------------------------------------------------------------------------------------
# write_all's catalog of its read-only snapshot connection: (connection, {(schema, table): [columns in order]}).
# Each year asks ~15 catalog questions (which marts exist, their columns), ~1 ms of CPU each against
# information_schema; ten years re-checked every run asked them ten times (issue 19). A read-only connection's
# catalog cannot change while it is open; any other connection asks DuckDB.
_CATALOG: contextvars.ContextVar[tuple[object, dict[tuple[str, str], list[str]]] | None] = contextvars.ContextVar(
    "extract_catalog", default=None
)


def _catalog(con) -> dict[tuple[str, str], list[str]] | None:
    held = _CATALOG.get()
    return held[1] if held is not None and held[0] is con else None


def _read_catalog(con) -> dict[tuple[str, str], list[str]]:
    """Every table and view of the connection with its columns in order (one query)."""
    out: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "order by table_schema, table_name, ordinal_position"
    ).fetchall():
        out.setdefault((schema, table), []).append(column)
    for schema, table in con.execute("select table_schema, table_name from information_schema.tables").fetchall():
        out.setdefault((schema, table), [])
    return out


def _has(con, schema: str, table: str) -> bool:
    held = _catalog(con)
    if held is not None:
        return (schema, table) in held
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchall()[0][0]
    )


def _columns(con, schema: str, table: str) -> list[str]:
    held = _catalog(con)
    if held is not None:
        return list(held.get((schema, table), []))
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def released_years(con) -> list[int]:
    """Evaluation years with a release (``releases.releases``), else every evaluated year in the snapshot."""
    if _has(con, "releases", "releases"):
        return [
            r[0] for r in con.execute("select distinct evaluation_year from releases.releases order by 1").fetchall()
        ]
    table = "fct_evaluation_year" if _has(con, "marts", "fct_evaluation_year") else "fct_city_score_year"
    return [r[0] for r in con.execute(f"select distinct year from marts.{table} order by 1").fetchall()]


def release_info(con, year: int) -> dict:
    """Release metadata for ``year``: the latest row of ``releases.releases`` when published (issue 10's table),
    otherwise derived from the snapshot: data version = hash of the ingested files' hashes, catalog version of the
    year, rules version of the evaluation mart, published time from ``meta.snapshot_info``."""
    if _has(con, "releases", "releases"):
        from pipelines.evaluation.releases import LATEST_FIRST

        df = con.sql(
            f"select * from releases.releases where evaluation_year = ? order by {LATEST_FIRST} limit 1",
            params=[year],
        ).pl()
        if df.height:
            r = df.row(0, named=True)
            return {k: (str(v) if v is not None else None) for k, v in r.items()} | {"derived": False}
    info = {}
    if _has(con, "meta", "snapshot_info"):
        info = dict(con.execute("select key, value from meta.snapshot_info").fetchall())
    hashes = []
    if _has(con, "raw", "ingested_files"):
        hashes = [
            r[0]
            for r in con.execute(
                "select file_hash from raw.ingested_files where status <> 'failed' order by file_hash"
            ).fetchall()
        ]
    data_version = hashlib.sha256("\n".join(hashes).encode()).hexdigest()[:12]
    catalog = None
    if _has(con, "marts", "catalog_versions"):
        hit = con.execute(
            "select catalog_version from marts.catalog_versions where evaluation_year = ?", [year]
        ).fetchall()
        catalog = hit[0][0] if hit else None
    if catalog is None and _has(con, "marts", "dim_indicator"):
        catalog = con.execute("select max(catalog_version) from marts.dim_indicator").fetchall()[0][0]
    rules = None
    if _has(con, "marts", "fct_evaluation_year") and "rules_version" in _columns(con, "marts", "fct_evaluation_year"):
        rules = con.execute(
            "select max(rules_version) from marts.fct_evaluation_year where year = ?", [year]
        ).fetchall()[0][0]
    return {
        "release_id": f"{year}-{data_version[:8]}-{catalog or 'na'}-{rules or 'na'}",
        "evaluation_year": str(year),
        "data_version": data_version,
        "catalog_version": catalog,
        "rules_version": rules,
        "released_at": info.get("published_at"),
        "run_id": info.get("run_id"),
        "derived": True,
    }


# ---- the tables ----------------------------------------------------------------------------------------------------
def province_codes(con) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select distinct province_code from marts.dim_city where province_code is not null order by 1"
        ).fetchall()
    ]


def extract_tables(con, province_code: str, year: int, year_tables: dict | None = None) -> dict[str, pl.DataFrame]:
    """The province's cities' tables for ``year``, straight from the marts (English column names, exact values).
    ``year_tables`` (from ``year_extract_tables``) saves the queries when every province is written."""
    year_tables = year_tables if year_tables is not None else year_extract_tables(con, year, province_code)
    return {name: df.filter(pl.col("province_code") == province_code) for name, df in year_tables.items()}


def year_extract_tables(
    con, year: int, province_code: str | None = None, release: dict | None = None
) -> dict[str, pl.DataFrame]:
    """Every city's extract tables for ``year`` (or one province's), with ``province_code`` on every row.
    ``release``: the year's ``release_info`` when the caller has it already."""
    where = "d.level <> 'province'" + (" and d.province_code = ?" if province_code else "")
    p = [province_code] if province_code else []
    out: dict[str, pl.DataFrame] = {}
    ind_cols = [c for c in _columns(con, "marts", "fct_city_indicator_year") if c not in ("unit_code", "year")]
    out["indicators"] = con.sql(
        f"""select i.year, d.province_code, d.province_name, i.unit_code, d.unit_name, c.pillar_code,
                   c.pillar_name_zh, c.name_zh, c.unit, {", ".join("i." + c for c in ind_cols)}
            from marts.fct_city_indicator_year i
            join marts.dim_city d on d.unit_code = i.unit_code
            left join marts.dim_indicator c on c.indicator_code = i.indicator_code
                 and c.catalog_version = i.catalog_version
            where {where} and i.year = ?
            order by i.unit_code, i.indicator_code""",
        params=[*p, year],
    ).pl()
    # the 综合指数 a city reads is the published figure its rank, tie and group are decided on (round 8), never the
    # index at 9 significant figures: two cities showing different figures must not share a rank
    score_cols = [
        c
        for c in _columns(con, "marts", "fct_city_score_year")
        if c not in ("unit_code", "year", "composite_index_published")
    ]
    shown = {"composite_index": "s.composite_index_published as composite_index"}
    if "composite_index_published" not in _columns(con, "marts", "fct_city_score_year"):
        shown = {}
    eval_cols = []
    join_eval = ""
    if _has(con, "marts", "fct_evaluation_year"):
        have = set(_columns(con, "marts", "fct_evaluation_year"))
        eval_cols = [c for c in EVALUATION_COLUMNS if c in have and c not in score_cols]
        join_eval = "left join marts.fct_evaluation_year e on e.unit_code = s.unit_code and e.year = s.year"
    # the last day the year's reports count (Beijing time, the whole day), the deadline the dashboard's flag page and
    # the alerts name (rules.REPORT_DEADLINES_SQL, one definition): the extract gave the exit verdict and no date
    deadline_col, join_deadline = "", ""
    if _has(con, "marts", "fct_reporting_status"):
        from pipelines.evaluation.rules import REPORT_DEADLINES_SQL

        deadline_col = ", rd.report_grace_end_date"
        join_deadline = f"left join ({REPORT_DEADLINES_SQL}) rd on rd.unit_code = s.unit_code and rd.year = s.year"
    out["scores"] = con.sql(
        f"""select s.year, d.province_code, d.province_name, s.unit_code, d.unit_name, d.level, d.is_programme
                   {"".join(", " + shown.get(c, "s." + c) for c in score_cols)}{"".join(", e." + c for c in eval_cols)}
                   {deadline_col}
            from marts.fct_city_score_year s
            join marts.dim_city d on d.unit_code = s.unit_code {join_eval} {join_deadline}
            where {where} and s.year = ?
            order by s.rank nulls last, s.unit_code""",
        params=[*p, year],
    ).pl()
    out["scores"] = with_release(con, out["scores"], year, release)
    if "rules_fired" in eval_cols:
        out["scores"] = _with_rules_in_chinese(con, out["scores"], year)
    if _has(con, "marts", "fct_target_status_year"):
        t_cols = [c for c in _columns(con, "marts", "fct_target_status_year") if c not in ("unit_code", "year")]
        out["targets"] = con.sql(
            f"""select t.year, d.province_code, d.province_name, t.unit_code, d.unit_name, c.name_zh
                       {"".join(", t." + c for c in t_cols)}
                from marts.fct_target_status_year t
                join marts.dim_city d on d.unit_code = t.unit_code
                left join (select distinct indicator_code, name_zh from marts.dim_indicator
                           where catalog_version = (select max(catalog_version) from marts.dim_indicator)) c
                     on c.indicator_code = t.indicator_code
                where {where} and t.year = ?
                order by t.unit_code, t.plan_id, t.indicator_code""",
            params=[*p, year],
        ).pl()
    if _has(con, "marts", "fct_acceptance_score"):
        # the unit's name comes from dim_city, as in every table (the mart's own copy came out as "unit_name_1")
        a_cols = [c for c in _columns(con, "marts", "fct_acceptance_score") if c not in ("unit_code", "unit_name")]
        from pipelines.evaluation.releases import cycle_of_year_sql

        # the cycles ended by the year, and the cycle of the year as the release holds it (releases.cycle_of_year_sql):
        # 南通's 2024 is judged on 2024-2026 (promoted in 2024), a cycle that does not end by 2024
        of_year = "false"
        if _has(con, "marts", "fct_programme_unit_year"):
            of_year = cycle_of_year_sql(
                "cycle_first_year", "cycle_last_year", "marts.fct_acceptance_score", "a", str(int(year))
            )
        out["acceptance"] = con.sql(
            f"""select d.province_code, d.province_name, a.unit_code, d.unit_name
                       {"".join(", a." + c for c in a_cols)}
                from marts.fct_acceptance_score a
                join marts.dim_city d on d.unit_code = a.unit_code
                where {where} and (a.cycle_last_year <= ? or ({of_year}))
                order by a.unit_code, a.cycle_first_year""",
            params=[*p, year],
        ).pl()
        out["acceptance"] = with_released_acceptance(con, with_cycle_evidence(con, out["acceptance"]), year, release)
    return out


def _with_rules_in_chinese(con, scores: pl.DataFrame, year: int) -> pl.DataFrame:
    """``rules_fired_zh`` beside the mart's English ``rules_fired``: the same facts in Chinese, built from the
    evaluation row by the dashboard's own function (``dashboards.evaluation_text.rules_text``), so the extract, the
    flag page and the report state the same numbers."""
    from dashboards.evaluation_text import rules_text

    rows = con.sql("select * from marts.fct_evaluation_year where year = ?", params=[year]).pl()
    by_lang = {
        lang: {
            r["unit_code"]: (rules_text(r, lang) if r["rules_fired"] is not None else None)
            for r in rows.iter_rows(named=True)
        }
        for lang in ("zh", "en")
    }
    zh = scores["unit_code"].replace_strict(by_lang["zh"], default=None, return_dtype=pl.String)
    # the English as the dashboard shows it too (true minus, range dash): the mart's sentence kept its hyphens
    en = scores["unit_code"].replace_strict(by_lang["en"], default=None, return_dtype=pl.String)
    scores = scores.with_columns(en.alias("rules_fired"))
    return scores.insert_column(scores.columns.index("rules_fired") + 1, zh.alias("rules_fired_zh"))


# The as-released verdict's columns (releases.evaluation_year column -> scores sheet column).
RELEASED_COLUMNS = {
    "stage": "released_stage",
    "composite_index": "released_composite_index",
    "rank": "released_rank",
    "rank_is_shared": "released_rank_is_shared",
}


def with_release(con, scores: pl.DataFrame, year: int, release: dict | None = None) -> pl.DataFrame:
    """A released year's scores with the as-released verdict of the release the extract names (release_info)
    beside the current figures, and ``differs_from_release`` where the current stage or index is not what was
    released (issue 10: loading a later year re-scores the marts, never the release). Unchanged for a year
    without a release."""
    from pipelines.evaluation.releases import released_differs
    from pipelines.labels import published_index

    release = release or release_info(con, year)
    if release.get("derived") or not (
        _has(con, "releases", "city_score_year") and _has(con, "releases", "evaluation_year")
    ):
        return scores
    # every unit's released index and rank (the sheet's own columns); the stage of the programme cities
    from pipelines.evaluation.releases import RELEASED_RANKS_SQL, recode_released

    # the released rank with its tie (并列) in the release (releases.RELEASED_RANKS_SQL)
    released = con.sql(
        f"""select s.unit_code, e.stage, s.composite_index, s.rank, r.rank_is_shared
           from releases.city_score_year s
           left join releases.evaluation_year e on e.release_id = s.release_id and e.unit_code = s.unit_code
           left join ({RELEASED_RANKS_SQL}) r on r.release_id = s.release_id and r.unit_code = s.unit_code
           where s.release_id = ?""",
        params=[release["release_id"]],
    ).pl()
    # the released index as it was published (the figure its released rank was decided on), as the current one
    released = released.with_columns(
        pl.Series(
            "composite_index", published_index(released["composite_index"].to_numpy()), dtype=pl.Float64
        ).fill_nan(None)
    )
    # a city recoded since the release (seed unit_code_changes: 莱芜 371200 → 济南 370100) finds its released verdict
    # under the code it was released under, named in released_unit_code
    released = recode_released(released, scores["unit_code"].to_list())
    by_unit = {r["unit_code"]: r for r in released.iter_rows(named=True)}
    current = scores.select(
        "unit_code",
        *(c for c in ("stage", "composite_index", "rank") if c in scores.columns),
    ).iter_rows(named=True)
    differs = [released_differs(by_unit.get(r["unit_code"]), r) for r in current]
    return scores.join(
        released.rename(RELEASED_COLUMNS), on="unit_code", how="left", maintain_order="left"
    ).with_columns(pl.Series("differs_from_release", differs, dtype=pl.Boolean))


def with_cycle_evidence(con, acceptance: pl.DataFrame) -> pl.DataFrame:
    """The acceptance rows' current cycle verdict (cycle_verdict) with its evidence (fct_evaluation_cycle.evidence:
    each rule's figures, thresholds, years and rules version) and what judged it (the rules version and group of the
    verdict, each year's where they changed, and the catalogues its index change compares -- like-for-like or
    across a catalogue change, with the like-for-like change beside it), in Chinese and English as the dossier and
    the profile word them (dashboards.evaluation_text.evidence_text / cycle_judged_by_text, one definition each).
    Before, the sheet named the verdict alone; a city contesting it had nothing in its extract to check it against,
    and only a released verdict (released_cycle_judged_by) said what judged it. Unchanged without the cycle mart."""
    from dashboards.evaluation_text import cycle_judged_by_text, evidence_text

    if not _has(con, "marts", "fct_evaluation_cycle") or "cycle_verdict" not in acceptance.columns:
        return acceptance
    cycles = con.sql("select * from marts.fct_evaluation_cycle").pl()
    by_cycle = {(r["unit_code"], r["cycle_start"]): r for r in cycles.iter_rows(named=True)}
    evidence, judged_by = [], []
    for r in acceptance.iter_rows(named=True):
        c = by_cycle.get((r["unit_code"], r["cycle_first_year"]))
        if c is None:
            evidence.append(None)
            judged_by.append(None)
            continue
        zh, en = (evidence_text(c.get("evidence"), lang) for lang in ("zh", "en"))
        evidence.append((zh if zh == en else f"{zh} / {en}") if zh else None)
        jzh, jen = (cycle_judged_by_text(c, lang) for lang in ("zh", "en"))
        judged_by.append(jzh if jzh == jen else f"{jzh} / {jen}")
    at = acceptance.columns.index("cycle_verdict") + 1
    if "cycle_verdict_status" in acceptance.columns:
        at = max(at, acceptance.columns.index("cycle_verdict_status") + 1)
    out = acceptance.insert_column(at, pl.Series("cycle_evidence", evidence, dtype=pl.String))
    return out.insert_column(at + 1, pl.Series("cycle_judged_by", judged_by, dtype=pl.String))


def with_released_acceptance(con, acceptance: pl.DataFrame, year: int, release: dict | None = None) -> pl.DataFrame:
    """A released year's acceptance rows with the acceptance score and band as released (the cycle the release
    holds) beside the current ones, and ``differs_from_release`` where the current score, band or status of that
    cycle is not what was released: a revised file of the cycle can move a city across a band after the release,
    and the extract must not present the new band as the published verdict. Other cycles' rows have no released
    figures. Unchanged for a year without a release."""
    from pipelines.evaluation.releases import recode_released, released_acceptance_differs

    release = release or release_info(con, year)
    if release.get("derived") or not _has(con, "releases", "acceptance_score"):
        return acceptance
    released = con.sql(
        """select unit_code, cycle_first_year, acceptance_score, acceptance_band, acceptance_status
           from releases.acceptance_score where release_id = ?""",
        params=[release["release_id"]],
    ).pl()
    released = recode_released(released, acceptance["unit_code"].to_list())  # a city recoded since the release
    by_unit = {r["unit_code"]: r for r in released.iter_rows(named=True)}
    scores, bands, differs = [], [], []
    for r in acceptance.iter_rows(named=True):
        rel = by_unit.get(r["unit_code"])
        mine = rel is not None and rel["cycle_first_year"] == r["cycle_first_year"]
        scores.append(rel["acceptance_score"] if mine else None)
        bands.append(rel["acceptance_band"] if mine else None)
        differs.append(released_acceptance_differs(rel, r) if mine else None)
    acceptance = acceptance.with_columns(
        pl.Series("released_acceptance_score", scores, dtype=pl.Float64),
        pl.Series("released_acceptance_band", bands, dtype=pl.String),
        pl.Series("differs_from_release", differs, dtype=pl.Boolean),
    )
    return _with_released_cycle(con, acceptance, release)


def _with_released_cycle(con, acceptance: pl.DataFrame, release: dict) -> pl.DataFrame:
    """The cycle verdict as released beside the current one, and -- when data corrected since moved it -- old → new
    in both languages (releases.cycle_revision_text, as the dossier shows it), not a bare "differs"."""
    from dashboards.evaluation_text import cycle_judged_by_text
    from pipelines.evaluation.releases import cycle_revision_text, recode_released

    if not _has(con, "releases", "evaluation_cycle") or "cycle_verdict" not in acceptance.columns:
        return acceptance
    # every column the release kept: the rules versions and groups that judged the verdict are among them (a
    # release written before they existed has none, and reads "–")
    released = con.sql(
        "select * from releases.evaluation_cycle where release_id = ?", params=[release["release_id"]]
    ).pl()
    released = recode_released(released, acceptance["unit_code"].to_list())  # a city recoded since the release
    by_unit = {r["unit_code"]: r for r in released.iter_rows(named=True)}
    verdicts, texts, judged_by = [], [], []
    for r in acceptance.iter_rows(named=True):
        rel = by_unit.get(r["unit_code"])
        mine = rel is not None and rel["cycle_start"] == r["cycle_first_year"]
        now = {"cycle_start": r["cycle_first_year"], "verdict": r["cycle_verdict"]}
        now["verdict_status"] = r.get("cycle_verdict_status")
        verdicts.append(rel["verdict"] if mine else None)
        zh, en = (cycle_revision_text(rel, now, lang) if mine else None for lang in ("zh", "en"))
        texts.append(f"{zh} / {en}" if zh else None)
        # which rules version and group judged the released verdict, worded as the dossier and the profile word it
        # under 评定依据 / Judged by (one definition): a verdict without its rules cannot be checked against them
        jzh, jen = (cycle_judged_by_text(rel, lang) if mine else None for lang in ("zh", "en"))
        judged_by.append((jzh if jzh == jen else f"{jzh} / {jen}") if mine else None)
    return acceptance.with_columns(
        pl.Series("released_cycle_verdict", verdicts, dtype=pl.String),
        pl.Series("cycle_verdict_revision", texts, dtype=pl.String),
        pl.Series("released_cycle_judged_by", judged_by, dtype=pl.String),
    )


def content_hash(tables: dict[str, pl.DataFrame]) -> str:
    """Digest of the tables' values; floats at 9 significant digits so a rebuild's last-bit noise is no change."""
    return _digest({name: _hash_frame(df) for name, df in tables.items()})


def _hash_frame(df: pl.DataFrame) -> pl.DataFrame:
    # row by row, so rounding a year's table once and slicing it per province gives the same frames
    return df.with_columns([pl.col(c).round_sig_figs(9) for c, t in df.schema.items() if t.is_float()])


def _digest(rounded: dict[str, pl.DataFrame]) -> str:
    h = hashlib.sha256()
    for name in sorted(rounded):
        h.update(name.encode())
        h.update(rounded[name].write_csv().encode())
    return h.hexdigest()


def _year_digests(rounded: dict[str, pl.DataFrame], keys: dict[str, pl.Series], codes: list[str]) -> dict[str, str]:
    """``_digest`` of every province's slice of the year's rounded tables (rows in order, ``keys[name]`` the
    province of each row), from one CSV text per table instead of one per province and table: a CSV row's line
    depends on that row alone, so a province's text is the header and its rows' lines. Ten years re-checked each
    run made the 1,240 small writes a tenth of the eleventh year's extract step (issue 19). A table whose text
    has a line break inside a value (quoted, over two lines) is written per province, as ``_digest`` does."""
    texts: dict[str, dict[str, str]] = {}
    for name, df in rounded.items():
        lines = df.write_csv().split("\n")
        if len(lines) != df.height + 2:  # header, one line per row, and the empty string after the last break
            texts[name] = {code: part.write_csv() for code, part in _by_province(df, keys[name], codes).items()}
            continue
        rows: dict[str, list[str]] = {code: [lines[0]] for code in codes}
        for code, line in zip(keys[name].to_list(), lines[1:-1], strict=True):
            if code in rows:
                rows[code].append(line)
        texts[name] = {code: "\n".join(part) + "\n" for code, part in rows.items()}
    out = {}
    for code in codes:
        h = hashlib.sha256()
        for name in sorted(rounded):
            h.update(name.encode())
            h.update(texts[name][code].encode())
        out[code] = h.hexdigest()
    return out


# ---- changes since the previous version ------------------------------------------------------------------------------
def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            return False
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


def _fmt(v) -> str:
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def _row_key_sort(key: tuple) -> tuple:
    # the changes list's row order: each key value as text, an empty key first
    return tuple("" if x is None else str(x) for x in key)


def _change_row(name: str, keys: tuple[str, ...], key: tuple, change: str, ref: tuple, cells=()) -> dict:
    """One row of the changes list: ``ref`` the (unit_code, unit_name) of the new row, else the old one; ``cells``
    the changed columns as (column, old value, new value). One builder for the row-by-row diff and the year's
    (``diff_year``)."""
    return {
        "table": name,
        "unit_code": ref[0],
        "unit_name": ref[1],
        "row_key": ", ".join(f"{k}={v}" for k, v in zip(keys, key) if k != "unit_code"),
        "change": change,
        "columns": ", ".join(c for c, _, _ in cells),
        "old_values": "; ".join(f"{c}={_fmt(v)}" for c, v, _ in cells),
        "new_values": "; ".join(f"{c}={_fmt(v)}" for c, _, v in cells),
    }


def _changes_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {c: pl.String for c in CHANGE_HEADERS}
    return pl.DataFrame(rows, schema=schema).select(list(CHANGE_HEADERS))


def diff_tables(old: dict[str, pl.DataFrame], new: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per added, removed or changed row of any table (keys from ``TABLES``)."""
    rows = []
    for name, (_, keys) in TABLES.items():
        a, b = old.get(name), new.get(name)
        if a is None and b is None:
            continue
        a_rows = {tuple(r[k] for k in keys): r for r in (a.to_dicts() if a is not None else [])}
        b_rows = {tuple(r[k] for k in keys): r for r in (b.to_dicts() if b is not None else [])}
        for key in sorted(set(a_rows) | set(b_rows), key=_row_key_sort):
            ra, rb = a_rows.get(key), b_rows.get(key)
            ref = rb or ra
            ref = (ref.get("unit_code"), ref.get("unit_name"))
            if ra is None or rb is None:
                rows.append(_change_row(name, keys, key, "added" if ra is None else "removed", ref))
                continue
            cells = [(c, ra.get(c), rb.get(c)) for c in rb if c not in keys and not _same(ra.get(c), rb.get(c))]
            if cells:
                rows.append(_change_row(name, keys, key, "changed", ref, cells))
    return _changes_frame(rows)


# Column types whose values ``diff_year`` compares in Polars exactly as ``_same`` compares the Python values
# (floats by ``math.isclose``'s rule, everything else by equality, None only equal to None). Anything else (nested,
# categorical, object) goes through the row-by-row diff.
def _diffable(dtype: pl.DataType, key: bool) -> bool:
    if dtype.is_float():
        return not key  # a float key: NaN is no dict key equal to itself
    return (
        dtype.is_integer()
        or dtype.is_temporal()
        or isinstance(dtype, (pl.String, pl.Boolean, pl.Decimal, pl.Binary, pl.Null))
    )


def _differs(a: pl.Expr, b: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """``not _same(a, b)`` as an expression on two columns of ``dtype``."""
    if not dtype.is_float():
        return a.ne_missing(b)
    a, b = a.cast(pl.Float64), b.cast(pl.Float64)
    nan_a, nan_b = a.is_nan(), b.is_nan()
    # math.isclose: equal, or both finite and |a-b| <= max(rel_tol * max(|a|, |b|), abs_tol)
    close = (a == b) | (
        ~(a.is_infinite() | b.is_infinite())
        & ((a - b).abs() <= pl.max_horizontal(REL_TOL * pl.max_horizontal(a.abs(), b.abs()), pl.lit(1e-12)))
    )
    same = pl.when(nan_a | nan_b).then(nan_a & nan_b).otherwise(close)
    return (a.is_null() != b.is_null()) | (a.is_not_null() & b.is_not_null() & ~same)


def _side(col: str, side: str, keys: tuple[str, ...], schema: dict) -> pl.Expr:
    """A column of the old or the new row in ``diff_year``'s join (a key is one column; absent: null)."""
    if col in keys:
        return pl.col(col)
    if col in schema:
        return pl.col(col if side == "old" else f"{col}__new")
    return pl.lit(None)


_OLD, _NEW, _CHANGED, _ROW = "__extract_old__", "__extract_new__", "__extract_changed__", "__extract_row__"


def diff_year(
    old: dict[str, pl.DataFrame], new: dict[str, pl.DataFrame], key: str, codes: list[str]
) -> dict[str, pl.DataFrame] | None:
    """``diff_tables`` of every province in ``codes`` at once: ``old`` and ``new`` hold each table's rows of all
    those provinces, ``key`` naming a row's province. One join and one comparison per table for the whole year
    instead of a Python loop over every cell of every province (issue 19: a new year re-versions every earlier
    province-year, 279 diffs in the eleventh year); Python only formats the rows that changed. The same lists as
    ``diff_tables`` province by province; ``None`` when this cannot be decided exactly here (tables or columns that
    differ between the versions, a key that is not unique, a type ``_diffable`` does not cover): the caller then
    diffs province by province."""
    if set(old) != set(new):
        return None
    rows: dict[str, list[dict]] = {code: [] for code in codes}
    for name, (_, keys) in TABLES.items():
        if name not in new:
            continue
        a, b = old[name], new[name]
        schema = {c: t for c, t in b.schema.items() if c != key}
        if {c: t for c, t in a.schema.items() if c != key} != schema or any(k not in schema for k in keys):
            return None
        if not all(_diffable(t, c in keys) for c, t in schema.items()):
            return None
        if any(c.endswith("__new") or c.startswith("__extract_") for c in schema):
            return None  # would collide with the join's own column names
        on = [key, *keys]
        if a.select(pl.struct(on).is_duplicated().any()).item() or b.select(pl.struct(on).is_duplicated().any()).item():
            return None  # the row-by-row diff keeps a duplicate key's last row; not worth copying here
        values = [c for c in schema if c not in keys]
        if not (a.height or b.height):
            continue
        flags = [f"{_CHANGED}{i}" for i in range(len(values))]
        found = (
            a.with_columns(pl.lit(True).alias(_OLD))
            .join(
                b.with_columns(pl.lit(True).alias(_NEW)),
                on=on,
                how="full",
                nulls_equal=True,
                coalesce=True,
                suffix="__new",
            )
            .with_columns(
                _differs(pl.col(c), pl.col(f"{c}__new"), schema[c]).fill_null(False).alias(f)
                for c, f in zip(values, flags)
            )
            .filter(pl.col(_OLD).is_null() | pl.col(_NEW).is_null() | pl.any_horizontal(pl.lit(False), *flags))
            .with_row_index(_ROW)
        )
        if not found.height:
            continue

        head = found.select(
            pl.col(key),
            *keys,
            pl.col(_OLD).is_not_null(),
            pl.col(_NEW).is_not_null(),
            *(
                _side(c, side, keys, schema).alias(f"{side} {c}")
                for side in ("old", "new")
                for c in ("unit_code", "unit_name")
            ),
        ).rows()
        # the changed cells only, column by column (in the table's order) and converted to Python values for
        # the text: a new year changes a few columns of most rows, not all of them
        cells: list[list] = [[] for _ in head]
        both = pl.col(_OLD).is_not_null() & pl.col(_NEW).is_not_null()
        for c, f in zip(values, flags):
            for i, o, n in found.filter(both & pl.col(f)).select(_ROW, c, f"{c}__new").rows():
                cells[i].append((c, o, n))
        nk = len(keys)
        per_code: dict[str, list[tuple]] = {}
        for i, (code, *rest) in enumerate(head):
            k, (in_old, in_new, old_code, old_name, new_code, new_name) = tuple(rest[:nk]), rest[nk:]
            change = "changed" if in_old and in_new else "added" if in_new else "removed"
            ref_values = (new_code, new_name) if in_new else (old_code, old_name)
            per_code.setdefault(code, []).append((k, change, ref_values, cells[i]))
        for code, found_rows in per_code.items():
            if code not in rows:
                return None
            found_rows.sort(key=lambda t: _row_key_sort(t[0]))
            rows[code] += [_change_row(name, keys, *r) for r in found_rows]
    return {code: _changes_frame(r) for code, r in rows.items()}


# ---- writers ---------------------------------------------------------------------------------------------------------
def _in_words(df: pl.DataFrame) -> pl.DataFrame:
    """The frame with its codes (``VALUE_LABEL_SETS``) and booleans in Chinese words, for the CSV and XLSX; a code
    the seed does not know stays as it is, an empty cell stays empty."""
    from pipelines.labels import YES_NO_ZH, label_set, third_party_status_labels

    yes, no = YES_NO_ZH
    exprs = []
    for c, t in df.schema.items():
        if t == pl.Boolean:
            exprs.append(pl.when(pl.col(c)).then(pl.lit(yes)).when(~pl.col(c)).then(pl.lit(no)).alias(c))
        elif c in VALUE_LABEL_SETS and t == pl.String:
            # fct_third_party_evaluation's statuses are labelled under third_party_<status> (pipelines.labels)
            pairs = third_party_status_labels() if c == "third_party_status" else label_set(VALUE_LABEL_SETS[c])
            exprs.append(pl.col(c).replace({code: zh for code, (zh, _) in pairs.items()}).alias(c))
    return df.with_columns(exprs) if exprs else df


def _chinese(df: pl.DataFrame, headers: dict[str, str]) -> pl.DataFrame:
    mapping = {c: headers[c] for c in df.columns if c in headers}
    # Two columns must not end up with the same header (a mart may add a column whose label is taken).
    seen, out = set(), {}
    for c in df.columns:
        h = mapping.get(c, c)
        if h in seen:
            h = f"{h}（{c}）"
        seen.add(h)
        out[c] = h
    return df.rename(out)


def _as_text_types(df: pl.DataFrame) -> pl.DataFrame:
    """Dates, times and decimals as ISO / exact text."""
    return df.with_columns(
        [pl.col(c).cast(pl.String) for c, t in df.schema.items() if t.is_temporal() or t == pl.Decimal]
    )


def _for_spreadsheet(df: pl.DataFrame) -> pl.DataFrame:
    """Text never starts a formula; dates and times as ISO text."""
    from dashboards.security import neutralise_text

    return neutralise_text(_as_text_types(df))


def _csv_frame(df: pl.DataFrame, headers: dict[str, str] = HEADERS) -> pl.DataFrame:
    """The CSV's frame: neutralised text, ISO dates, Chinese headers (row by row, so it may be built for a whole
    year and sliced per province)."""
    return _chinese(_for_spreadsheet(_in_words(df)), headers)


def _write_csv_frame(frame: pl.DataFrame, path: Path) -> None:
    path.write_bytes(b"\xef\xbb\xbf" + frame.write_csv().encode("utf-8"))


def write_csv(df: pl.DataFrame, path: Path, headers: dict[str, str] = HEADERS) -> None:
    _write_csv_frame(_csv_frame(df, headers), path)


def _sheet_frame(df: pl.DataFrame, headers: dict[str, str]) -> tuple[list[str], pl.DataFrame]:
    """A sheet's header row (neutralised Chinese names) and its values as ``dashboards.xlsx.sheet_rows`` makes
    them: the same calls, split so the values can be built once per year and sliced per province."""
    from dashboards.security import neutralise_cell
    from dashboards.xlsx import spreadsheet_frame

    named = _chinese(_as_text_types(_in_words(df)), headers)
    return [neutralise_cell(str(c)) for c in named.columns], spreadsheet_frame(named, inf_as_error=True)


def write_xlsx(path: Path, cover: list[tuple[str, str]], sheets: list[tuple[str, pl.DataFrame, dict]]) -> None:
    """The workbook with pyexcelerate (``dashboards.xlsx``): a cover sheet, then one sheet per table with a bold
    frozen header row. Numbers and booleans typed, NaN an empty cell, ±inf a #DIV/0! error cell (xlsxwriter's
    nan_inf_to_errors gave the same value through a formula, =1/0; now it is a plain error value), every text
    neutralised first so none can become a formula."""
    _write_xlsx_frames(path, cover, [(name, *_sheet_frame(df, headers)) for name, df, headers in sheets])


def _write_xlsx_frames(
    path: Path, cover: list[tuple[str, str]], sheets: list[tuple[str, list[str], pl.DataFrame]]
) -> None:
    """``write_xlsx`` from sheets already through ``_sheet_frame`` (header row, neutralised values). The cover's
    data-nature lines (``_write_workbook``) are repeated in the document properties."""
    from pyexcelerate import Alignment, Color, Fill, Font, Style
    from pyexcelerate.Border import Border
    from pyexcelerate.Borders import Borders

    from dashboards.xlsx import add_table, new_workbook

    bold = Style(
        font=Font(bold=True),
        fill=Fill(background=Color(0xF2, 0xF2, 0xF2)),
        borders=Borders(left=Border(), right=Border(), top=Border(), bottom=Border()),
        alignment=Alignment(wrap_text=True),
    )
    stated = dict(cover)
    about = stated.get(ABOUT_KEY)
    wb = new_workbook(properties(stated.get(DataNature().header(), ""), about) if about else None)
    ws = wb.new_sheet("封面", data=[[_neutral(k), _neutral(v) or None] for k, v in cover])
    for i in range(1, len(cover) + 1):
        ws.set_cell_style(i, 1, bold)
    ws.set_col_style(1, Style(size=28))
    ws.set_col_style(2, Style(size=90))
    for name, header, frame in sheets:
        # lists, not tuples: pyexcelerate stores list rows as they are and tuples cell by cell
        rows = [header, *map(list, frame.rows())]
        widths = []
        for j, col in enumerate(rows[0]):
            width = max([len(str(col))] + [len(str(r[j])) for r in rows[1:201] if r[j] is not None])
            widths.append(min(max(8, width * 1.3), 40))
        add_table(wb, name, rows, widths, bold)
    wb.save(str(path))


def _neutral(v: str) -> str:
    from dashboards.security import neutralise_cell

    return neutralise_cell(v or "")


ABOUT_KEY = "数据说明 / About the data"  # the cover line with the data-nature note (also the document properties)


def _nature_of_file(f: dict) -> DataNature:
    """The data nature a version's file was listed with; a manifest written before ``synthetic_sources`` was
    recorded listed the documented sample labels (its note always said synthetic), so those."""
    listed = f.get("synthetic_sources")
    return DataNature() if listed is None else DataNature(tuple(listed))


# ---- versions ----------------------------------------------------------------------------------------------------
def _manifest_path(root: Path, province_code: str, year: int) -> Path:
    return root / province_code[:2] / str(year) / "versions.json"


def read_versions(root: Path, province_code: str, year: int) -> list[dict]:
    p = _manifest_path(Path(root), province_code, year)
    if not p.is_file():
        return []
    return json.loads(p.read_text(encoding="utf-8"))["versions"]


def _read_version_tables(root: Path, entry: dict) -> dict[str, pl.DataFrame]:
    out = {}
    for f in entry["files"]:
        if f["format"] == "parquet" and f["table"] in TABLES:
            out[f["table"]] = pl.read_parquet(Path(root) / f["path"])
    return out


def write_extract(
    con,
    root: Path,
    province_code: str,
    year: int,
    *,
    generated_at: str | None = None,
    force: bool = False,
    year_tables: dict | None = None,
    release: dict | None = None,
) -> dict | None:
    """Write a new version for the province and year if its content or release changed; return its manifest
    entry (None when nothing changed)."""
    tables = extract_tables(con, province_code, year, year_tables)
    release = release or release_info(con, year)
    job = _Job(Path(root), province_code, year, tables, release, content_hash(tables), generated_at, force)
    job.nature = nature_of(con)  # the CLI's extract says what the snapshot it reads loaded, as write_all's do
    return _write_version(job)


@dataclasses.dataclass
class _Job:
    """One province-year to write: its tables and, when ``write_all`` built them for the whole year, their CSV
    and sheet frames (``None``: built from ``tables`` when written). Plain data, so it can go to a worker."""

    root: Path
    province_code: str
    year: int
    tables: dict[str, pl.DataFrame]
    release: dict
    digest: str
    generated_at: str | None = None
    force: bool = False
    csv_frames: dict[str, pl.DataFrame] | None = None
    sheet_frames: dict[str, tuple[list[str], pl.DataFrame]] | None = None
    # which data are synthetic (pipelines/data_nature.py): the snapshot's, read once by write_all
    nature: DataNature | None = None
    # write_all: a re-version's workbook and CSV files are built on their first download (``ensure_file``), not in
    # the run
    defer_files: bool = False
    # write_all: the changes since version ``changes_since``, listed for the whole year at once (``diff_year``)
    changes: pl.DataFrame | None = None
    changes_since: int | None = None
    # write_all: the province-year had a version already, so this one (``defer_files``) writes only its Parquet
    # files and manifest: cheap, and written by threads in the parent rather than shipped to a worker process
    revised: bool = False


def _unchanged(last: dict | None, digest: str, release: dict, force: bool) -> bool:
    return bool(last and not force and last["content_hash"] == digest and last["release_id"] == release["release_id"])


def _write_version(job: _Job) -> dict | None:
    root, province_code, year, tables, release = job.root, job.province_code, job.year, job.tables, job.release
    digest = job.digest
    versions = read_versions(root, province_code, year)
    last = versions[-1] if versions else None
    if _unchanged(last, digest, release, job.force):
        return None
    n = (last["version"] + 1) if last else 1
    pp = province_code[:2]
    rel_dir = Path(pp) / str(year) / f"v{n}"
    # owner-only from birth, every folder below the root (one province's figures): made with the umask's mode
    # (0755), a version's files were readable by every local user of the server
    out_dir = private_dirs(root, rel_dir)
    if last and job.changes is not None and job.changes_since == last["version"]:
        changes = job.changes
    else:
        changes = diff_tables(_read_version_tables(root, last), tables) if last else None
    generated_at = job.generated_at or utc_stamp()
    province_name = next(
        (t["province_name"][0] for t in tables.values() if t.height and "province_name" in t.columns), province_code
    )
    stem = f"ipcity_{pp}_{year}_v{n}"
    files = []

    def add(path: Path, fmt: str, table: str, rows: int) -> None:
        files.append({"path": str(rel_dir / path.name), "name": path.name, "format": fmt, "table": table, "rows": rows})

    # A re-version written by write_all: its CSV files and workbook are listed now and built from this version's
    # stored Parquet files when first asked for (ensure_file). A new year re-versions every earlier year at once
    # when it moves the window, and writing all their files in the run cost more than the new year itself
    # (bench/RESULTS.md, issue 19).
    on_request = job.defer_files and last is not None

    nature = job.nature if job.nature is not None else DataNature()

    def later(path: Path, fmt: str, table: str, rows: int, **extra) -> None:
        add(path, fmt, table, rows)
        files[-1] |= {"built_on_request": True, "synthetic_sources": list(nature.synthetic), **extra}

    # Parquet keeps its columns (the stored basis of diffs and of files built on request); the note travels in the
    # file's key-value metadata, which pyarrow / polars readers show (read_parquet_metadata).
    parquet_meta = nature.parquet_metadata()

    for name, df in tables.items():
        p = out_dir / f"{stem}_{name}.parquet"
        _write_parquet(df, p, parquet_meta)
        add(p, "parquet", name, df.height)
        p = out_dir / f"{stem}_{name}.csv"
        if on_request:
            later(p, "csv", name, df.height)
        else:
            _write_table_csv(name, df, p, nature, job.csv_frames[name] if job.csv_frames is not None else None)
            add(p, "csv", name, df.height)
    if changes is not None:
        p = out_dir / f"{stem}_changes.parquet"
        _write_parquet(changes, p, parquet_meta)
        add(p, "parquet", "changes", changes.height)
        p = out_dir / f"{stem}_changes.csv"
        if on_request:
            later(p, "csv", "changes", changes.height)
        else:
            _write_table_csv("changes", changes, p, nature)
            add(p, "csv", "changes", changes.height)
    p = out_dir / f"{stem}.xlsx"
    if on_request:
        files.append(
            {
                "path": str(rel_dir / p.name),
                "name": p.name,
                "format": "xlsx",
                "table": "all",
                "rows": sum(df.height for df in tables.values()),
                "built_on_request": True,
                "synthetic_sources": list(nature.synthetic),
            }
        )
    else:
        sheets = [
            (TABLES[name][0], *(job.sheet_frames[name] if job.sheet_frames is not None else _sheet_frame(df, HEADERS)))
            for name, df in tables.items()
        ]
        _write_workbook(
            p,
            province_code,
            province_name,
            year,
            n,
            last and last["version"],
            release,
            generated_at,
            nature,
            tables,
            sheets,
            changes,
        )
        add(p, "xlsx", "all", sum(df.height for df in tables.values()))
    entry = {
        "version": n,
        "province_code": province_code,
        "province_name": province_name,
        "year": year,
        "release_id": release["release_id"],
        "release": release,
        "generated_at": generated_at,
        "content_hash": digest,
        "previous_version": last["version"] if last else None,
        "changes": changes.height if changes is not None else None,
        "files": files,
    }
    manifest = _manifest_path(root, province_code, year)
    for f in files:
        if (root / f["path"]).is_file():  # (the ones built on request are tightened when built)
            tighten_file(root / f["path"])
    write_private_text(manifest, json.dumps({"versions": [*versions, entry]}, ensure_ascii=False, indent=1))
    return entry


# Parquet files of tables without rows, by schema and metadata (this process's; a few per run). Polars' writer puts
# no time or path in a file, so an empty table's bytes depend on its columns and the key-value metadata alone, and
# about a fifth of a run's re-versions have an empty table (targets, acceptance): each cost a writer's ~1 ms.
@functools.lru_cache(maxsize=64)
def _empty_parquet_bytes(schema: tuple, metadata: tuple | None) -> bytes:
    """The bytes Polars' writer gives a table without rows of these columns and this key-value metadata (a cache
    of this process's, not run state: the bytes depend on nothing else)."""
    buffer = io.BytesIO()
    pl.DataFrame(schema=dict(schema)).write_parquet(buffer, metadata=None if metadata is None else dict(metadata))
    return buffer.getvalue()


def _write_parquet(df: pl.DataFrame, path: Path, metadata: dict) -> None:
    """``df.write_parquet(path, metadata=metadata)``; a table without rows gets the bytes the writer gave the same
    columns and metadata before in this process."""
    if df.height:
        df.write_parquet(path, metadata=metadata)
        return
    key = None if metadata is None else tuple(sorted(metadata.items()))
    path.write_bytes(_empty_parquet_bytes(tuple(df.schema.items()), key))


def _write_table_csv(
    name: str, df: pl.DataFrame, path: Path, nature: DataNature, frame: pl.DataFrame | None = None
) -> None:
    """A version's CSV of table ``name`` (``changes``: the changes list, its kinds in words). ``frame``: the
    table's CSV frame when ``write_all`` built it for the whole year. One writer for the run's files and the ones
    built on first download (``ensure_file``). The last column says, in every row, whether the figures are
    synthetic (``data_nature.with_provenance_column``): the header stays the first line for machine readers."""
    if name == "changes":
        frame = _csv_frame(df.with_columns(pl.col("change").replace(CHANGE_LABELS)), CHANGE_HEADERS)
    elif frame is None:
        frame = _csv_frame(df)
    _write_csv_frame(with_provenance_column(frame, nature), path)


def rules_cover_rows(release: dict) -> list[tuple[str, str]]:
    """The cover's line saying the rules that judged the release changed inside their version label since
    (releases.rules_changed_text, the wording of the alerts, the profile and the dossier): the rules version the
    cover names no longer says which rules judged. [] when they did not change (or were not recorded)."""
    from pipelines.evaluation.releases import rules_changed_text

    changed = [rules_changed_text(release, lang) for lang in ("zh", "en")]
    return [("评定所依规则 / Rules that judged the release", f"{changed[0]} / {changed[1]}")] if changed[0] else []


def _write_workbook(
    path: Path,
    province_code: str,
    province_name: str,
    year: int,
    n: int,
    previous: int | None,
    release: dict,
    generated_at: str,
    nature: DataNature,
    tables: dict[str, pl.DataFrame],
    sheets: list[tuple[str, list[str], pl.DataFrame]],
    changes: pl.DataFrame | None,
) -> None:
    """A version's workbook: the cover, the tables' sheets (already through ``_sheet_frame``) and the changes
    sheet. One writer for the run's workbooks and the ones built on first download (``ensure_file``)."""
    cover = [
        ("省份 / Province", f"{province_name}（{province_code}）"),
        ("评估年度 / Evaluation year", str(year)),
        (
            "数据包版本 / Extract version",
            f"v{n}" + (f"（较 v{previous} 的变更见“{CHANGES_SHEET}”）" if previous else ""),
        ),
        ("发布编号 / Release id", release["release_id"]),
        ("数据版本 / Data version", str(release.get("data_version") or "")),
        ("指标体系版本 / Catalog version", str(release.get("catalog_version") or "")),
        ("评估规则版本 / Rules version", str(release.get("rules_version") or "")),
        ("发布时间 / Released at", china_time_both(release.get("released_at"))),
        ("生成时间 / Generated at", china_time_both(generated_at)),
        # which data are synthetic and which real, derived from what the snapshot loaded (pipelines/data_nature.py)
        (nature.header(), nature.row_value()),
        (ABOUT_KEY, nature.note_both()),
        ("发布编号来源 / Release source", "派生自数据快照" if release.get("derived") else "releases.releases"),
    ]
    cover += rules_cover_rows(release)
    scores = tables.get("scores")
    if scores is not None and "differs_from_release" in scores.columns:
        n_differ = int(scores["differs_from_release"].sum())
        cover.append(
            (
                "当前数据与发布不同的城市 / Cities whose current figures differ from the release",
                f"{n_differ}（见“{TABLES['scores'][0]}”表“{HEADERS['differs_from_release']}”列 / see that column）",
            )
        )
    sheets = list(sheets)
    if changes is not None:
        labelled = changes.with_columns(pl.col("change").replace(CHANGE_LABELS))
        sheets.append((CHANGES_SHEET, *_sheet_frame(labelled, CHANGE_HEADERS)))
    _write_xlsx_frames(path, cover, sheets)


# ---- writing every province and year ---------------------------------------------------------------------------
# Below this many first versions (each writes its workbook and CSV files: pure Python) the pool's start (a fresh
# interpreter per worker, ~1 s of CPU each) costs more than it saves. Re-versions do not count: they write only
# Parquet files and a manifest (≈ 8 ms each), which threads of the parent write at no start cost (bench/RESULTS.md,
# issue 19: 279 re-versions shipped to the pool cost as much CPU as they saved).
MIN_PARALLEL = 24
_KEY = "__extract_province__"  # the partition key added to the year's derived frames (never a mart column)


def extract_workers() -> int:
    """Worker processes for ``write_all``: ``IPCITY_EXTRACT_WORKERS`` (1 = serial), else one per usable core.
    Writing a workbook is pure Python (pyexcelerate), so threads would queue on the GIL; processes do not."""
    value = os.environ.get("IPCITY_EXTRACT_WORKERS", "").strip()
    if value:
        return max(1, int(value))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _by_province(df: pl.DataFrame, codes: pl.Series, wanted: list[str]) -> dict[str, pl.DataFrame]:
    """``df`` (row-aligned with ``codes``) split per province, rows in their order; the same rows as
    ``df.filter(province_code == code)`` without one filter per province (one Polars call instead of 31)."""
    parts = df.with_columns(codes.alias(_KEY)).partition_by(_KEY, maintain_order=True, include_key=False, as_dict=True)
    empty = df.clear()
    return {code: parts.get((code,), empty) for code in wanted}


def _year_jobs(con, root: Path, year: int, codes: list[str], nature: DataNature) -> list[_Job]:
    """The year's new versions, with every per-row conversion (rounding for the hash, neutralised CSV text, the
    sheets' values) done once on the year's tables and then sliced per province: the same frames as
    ``write_extract`` builds province by province, at a tenth of the Polars calls."""
    release = release_info(con, year)
    year_tables = year_extract_tables(con, year, release=release)
    keys = {name: df["province_code"] for name, df in year_tables.items()}
    tables = {name: _by_province(df, keys[name], codes) for name, df in year_tables.items()}
    digests = _year_digests({name: _hash_frame(df) for name, df in year_tables.items()}, keys, codes)
    pending, previous = [], {}
    for code in codes:
        digest = digests[code]
        versions = read_versions(root, code, year)
        if not _unchanged(versions[-1] if versions else None, digest, release, False):
            pending.append((code, digest, bool(versions)))
            if versions:
                previous[code] = versions[-1]
    if not pending:
        return []
    changes = _year_changes(root, previous, year_tables, keys)
    # CSV and sheet frames only for first versions: a re-version's are built on its first download (ensure_file)
    first = [code for code, _, revised in pending if not revised]
    csv, sheets = {}, {}
    for name, df in year_tables.items() if first else ():
        csv[name] = _by_province(_csv_frame(df), keys[name], first)
        header, values = _sheet_frame(df, HEADERS)
        sheets[name] = {code: (header, part) for code, part in _by_province(values, keys[name], first).items()}
    return [
        _Job(
            root,
            code,
            year,
            {name: tables[name][code] for name in year_tables},
            release,
            digest,
            csv_frames=None if revised else {name: csv[name][code] for name in year_tables},
            sheet_frames=None if revised else {name: sheets[name][code] for name in year_tables},
            nature=nature,
            defer_files=True,
            changes=changes.get(code),
            changes_since=previous[code]["version"] if code in changes else None,
            revised=revised,
        )
        for code, digest, revised in pending
    ]


def _year_changes(
    root: Path, previous: dict[str, dict], year_tables: dict[str, pl.DataFrame], keys: dict[str, pl.Series]
) -> dict[str, pl.DataFrame]:
    """The changes list of every re-versioned province of the year (``previous``: its last version's entry),
    computed at once (``diff_year``): the previous versions' Parquet files of each table read in one call, the
    year's rows of those provinces in one frame. Provinces it cannot decide (a previous version with other tables
    or columns, say from an older release of this code) are left out: their job diffs its own tables."""
    if not previous:
        return {}
    names = set(year_tables)
    files: dict[str, dict[str, str]] = {name: {} for name in names}  # table -> path -> province
    codes = []
    for code, entry in previous.items():
        own = [f for f in entry["files"] if f["format"] == "parquet" and f["table"] in TABLES]
        if {f["table"] for f in own} != names or len(own) != len(names):
            continue
        codes.append(code)
        for f in own:
            files[f["table"]][str(Path(root) / f["path"])] = code
    if not codes:
        return {}
    if any(len(files[name]) != len(codes) for name in names):
        return {}  # two provinces naming one file: each job reads its own, as the row-by-row path does
    old, new = {}, {}
    try:
        for name in names:
            # one reader over all the provinces' files; it refuses files whose columns or types differ
            df = pl.read_parquet(list(files[name]), include_file_paths=_KEY)
            old[name] = df.with_columns(pl.col(_KEY).replace_strict(files[name], return_dtype=pl.String))
    except (pl.exceptions.PolarsError, OSError):
        # files of other shapes, or one missing: each job reads its own previous version (and fails as before)
        return {}
    for name, df in year_tables.items():
        new[name] = df.with_columns(keys[name].alias(_KEY)).filter(pl.col(_KEY).is_in(codes))
    return diff_year(old, new, _KEY, codes) or {}


@contextlib.contextmanager
def _main_hidden():
    """``__main__`` replaced by an empty module while a worker is launched. A 'spawn' child first re-runs the
    parent's main script (as ``__mp_main__``) unless it is a package's ``__main__``; a script that calls
    ``write_all`` without an ``if __name__ == "__main__"`` guard would then start the whole run again in every
    worker. The workers run only this module's ``_write_version``, so they need nothing from the main script."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _SpawnProcess(mp_context.SpawnProcess):
    """A 'spawn' worker launched without the parent's main script (``_main_hidden``)."""

    @staticmethod
    def _Popen(process_obj):  # noqa: N802 (multiprocessing's name)
        with _main_hidden():
            return mp_context.SpawnProcess._Popen(process_obj)


class _SpawnContext(mp_context.SpawnContext):
    Process = _SpawnProcess


def _heavy(job: _Job) -> bool:
    """A job that writes a workbook and CSV files in the run (a first version, or a version outside
    ``write_all``'s deferral): worth a worker process. A re-version writes only Parquet files and its manifest."""
    return not (job.defer_files and job.revised)


def write_all(snapshot: Path, root: Path | None = None, provinces=None, years=None) -> list[dict]:
    """Every province × released year from the published snapshot (new versions only). Returns the new entries.

    Each year's tables are read and converted once (``_year_jobs``). First versions (workbook, CSV and Parquet
    files) are written by a pool of worker processes once there are enough of them (``extract_workers``,
    ``MIN_PARALLEL``), otherwise here; re-versions (Parquet files and manifest only) by threads of this process,
    which wait on Polars' writer with the GIL released. Years with first versions are prepared first, so the
    workers write their workbooks while this process prepares and writes the re-versions of the other years; the
    pool is started before the first year is read when the folder's manifests say it will be needed, so its
    start overlaps that work too. Each province-year has its own folder and manifest and its version number and
    hash depend only on that manifest, so no two writers share a file and they write what a serial run writes;
    the entries come back in the serial order (years as given, provinces in order). Workers are started with
    'spawn': Polars' thread pool does not survive a fork (the child can deadlock), and a worker needs only this
    module, Polars and pyexcelerate (~1 s to start)."""
    from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

    root = Path(root) if root else extracts_dir()
    workers = extract_workers()
    pool = threads = None
    done: dict[int, list] = {}  # year -> its entries (serial) or futures, in job order
    queued: list[tuple[int, int, _Job]] = []  # first versions waiting for enough of them to start the pool
    try:
        with duckdb.connect(str(snapshot), read_only=True) as con:
            held = _CATALOG.set((con, _read_catalog(con)))
            try:
                codes = list(provinces or province_codes(con))
                # the same province twice would be two writers of one manifest: keep that (odd) call serial
                parallel_ok = workers > 1 and len({c[:2] for c in codes}) == len(codes)
                nature = nature_of(con)
                wanted = [int(y) for y in (years or released_years(con))]
                # a province-year without a manifest gets a first version (the manifests are all this reads)
                first = {y: sum(not _manifest_path(root, c, y).is_file() for c in codes) for y in wanted}
                if parallel_ok:
                    threads = ThreadPoolExecutor(max_workers=workers)
                    if sum(first.values()) >= MIN_PARALLEL:
                        pool = ProcessPoolExecutor(max_workers=workers, mp_context=_SpawnContext())
                for year in sorted(dict.fromkeys(wanted), key=lambda y: not first[y]):  # stable: first versions first
                    results = done.setdefault(year, [])
                    for job in _year_jobs(con, root, year, codes, nature):
                        if not parallel_ok:  # serial: year by year, as the jobs come
                            results.append(_write_version(job))
                        elif not _heavy(job):
                            results.append(threads.submit(_write_version, job))
                        elif pool is not None:  # the workers write while the next year is read and prepared
                            results.append(pool.submit(_write_version, job))
                        else:
                            results.append(None)
                            queued.append((year, len(results) - 1, job))
                            if len(queued) >= MIN_PARALLEL:
                                pool = ProcessPoolExecutor(max_workers=workers, mp_context=_SpawnContext())
                                for y, i, waiting in queued:
                                    done[y][i] = pool.submit(_write_version, waiting)
                                queued = []
            finally:
                _CATALOG.reset(held)
        for y, i, job in queued:  # too few for a pool
            done[y][i] = _write_version(job)
        entries = [
            r.result() if isinstance(r, Future) else r for year in dict.fromkeys(wanted) for r in done.get(year, [])
        ]
    finally:
        for executor in (pool, threads):
            if executor is not None:
                executor.shutdown(cancel_futures=True)
    return [e for e in entries if e]


# ---- what the dashboard may serve ----------------------------------------------------------------------------------
_REL = re.compile(r"^(\d{2})/(\d{4})/v(\d{1,6})/([A-Za-z0-9_.-]{1,120})$")


def list_versions(root: Path, province_codes_: list[str] | None = None) -> list[dict]:
    """Every version of every province-year in ``root`` (newest first), optionally only some provinces."""
    root = Path(root)
    out = []
    if not root.is_dir():
        return out
    for manifest in sorted(root.glob("[0-9][0-9]/[0-9][0-9][0-9][0-9]/versions.json")):
        pp = manifest.parent.parent.name
        if province_codes_ is not None and f"{pp}0000" not in province_codes_:
            continue
        out += json.loads(manifest.read_text(encoding="utf-8"))["versions"]
    return sorted(out, key=lambda e: (-e["year"], e["province_code"], -e["version"]))


def _listed(root: Path, relpath: str) -> tuple[dict, dict] | None:
    """The version entry and file record that list ``relpath`` (None when no manifest lists it)."""
    m = _REL.fullmatch(relpath or "")
    if not m:
        return None
    pp, year, _v, _name = m.groups()
    for entry in read_versions(Path(root), pp + "0000", int(year)):
        for f in entry["files"]:
            if f["path"] == relpath:
                return entry, f
    return None


def ensure_file(root: Path, relpath: str) -> Path | None:
    """The listed file's path, building it first when it is a workbook or CSV file ``write_all`` left to its first
    download (``built_on_request``). Call only after the caller's access check for the file's province: this reads
    only the version's own stored files, named by its manifest.

    The build holds an exclusive lock on a file beside the one built, so concurrent first downloads (threads or
    gunicorn's worker processes) build it once; it is written to a temporary name and renamed into place, so a
    reader never sees half a file. The file is what the run would have written: the same writers
    (``_write_workbook``, ``_write_table_csv``) on the version's Parquet tables and changes list, a workbook's
    cover from the manifest entry."""
    import fcntl

    root = Path(root)
    found = _listed(root, relpath)
    if found is None:
        return None
    entry, f = found
    path = root / relpath
    if not f.get("built_on_request") or path.is_file():
        return path
    # a version written before its folders were owner-only is tightened when a file of it is first built
    private_dirs(root, Path(relpath).parent)
    lock_path = path.with_name(f".{path.name}.lock")
    with open(private_file(lock_path), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.is_file():  # another request built it while this one waited
                return path
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                _build_on_request(root, entry, f, tmp)
                os.replace(tighten_file(tmp), path)
            finally:
                tmp.unlink(missing_ok=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


def _stored_table(root: Path, entry: dict, table: str) -> pl.DataFrame | None:
    """The version's Parquet file of ``table`` (a ``TABLES`` name or ``changes``), as stored."""
    return next(
        (pl.read_parquet(root / c["path"]) for c in entry["files"] if c["format"] == "parquet" and c["table"] == table),
        None,
    )


def _build_on_request(root: Path, entry: dict, f: dict, path: Path) -> None:
    """Write the file ``f`` of version ``entry`` to ``path`` from the version's stored Parquet files."""
    if f["format"] == "csv":
        df = _stored_table(root, entry, f["table"])
        if df is None:
            raise FileNotFoundError(f"{f['path']}: the version lists no Parquet file of table {f['table']!r}")
        _write_table_csv(f["table"], df, path, _nature_of_file(f))
        return
    tables = _read_version_tables(root, entry)
    sheets = [(TABLES[name][0], *_sheet_frame(df, HEADERS)) for name, df in tables.items()]
    _write_workbook(
        path,
        entry["province_code"],
        entry["province_name"],
        entry["year"],
        entry["version"],
        entry["previous_version"],
        entry["release"],
        entry["generated_at"],
        _nature_of_file(f),
        tables,
        sheets,
        _stored_table(root, entry, "changes"),
    )


def lookup_file(root: Path, relpath: str) -> dict | None:
    """The manifest entry of a file by its relative path, only if a manifest lists it (nothing else is served)."""
    found = _listed(root, relpath)
    if found is None:
        return None
    entry, f = found
    return {**f, "province_code": entry["province_code"], "mimetype": MIMETYPES[f["format"]]}
