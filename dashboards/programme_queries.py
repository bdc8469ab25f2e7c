"""Pure data functions for the programme-cycle pages (programmes, provinces, ambition): each takes a snapshot
(anything with ``query``/``has``) and returns polars frames; ``None`` when the mart is not in the snapshot."""

from __future__ import annotations

import polars as pl

PROGRAMMES = "marts.dim_programme"
MEMBERSHIP = "marts.fct_programme_membership"
UNIT_YEARS = "marts.fct_programme_unit_year"
AMBITION = "marts.fct_target_ambition"
THIRD_PARTY = "marts.fct_third_party_evaluation"
ROLLUP = "marts.fct_province_rollup"
DIM = "marts.dim_city"
DIM_IND = "marts.dim_indicator"

# Headers of the ambition download (Chinese: the users are officials; codes stay for joins).
AMBITION_HEADERS: dict[str, str] = {
    "province_name": "省份",
    "unit_code": "行政区划代码",
    "unit_name": "城市",
    "plan_id": "建设方案",
    "indicator_code": "指标代码",
    "indicator_name": "指标名称",
    "baseline_year": "基期年份",
    "baseline_value": "基期值",
    "target_year": "目标年份",
    "target_value": "目标值",
    "required_growth": "所需年增长率",
    "trend_start_year": "趋势起始年",
    "trend_growth": "规划前自身年增长率",
    "baseline_group": "基期绩效分组",
    "peer_scope": "对标范围",
    "n_peers": "对标城市数",
    "peer_first_year": "对标起始年",
    "peer_last_year": "对标截止年",
    "peer_median_growth": "对标城市实际年增长率(中位数)",
    "peer_p90_growth": "对标城市实际年增长率(第90百分位)",
    "ambition_class": "雄心等级",
    "ambition_weight": "验收评分权重",
    "rules_version": "规则版本",
}


def programmes(snap) -> pl.DataFrame | None:
    if not snap.has(PROGRAMMES):
        return None
    return snap.query(f"select * from {PROGRAMMES} order by period_start nulls last, programme_code, cohort")


def partial_cohorts(snap) -> pl.DataFrame:
    """Cohorts whose roster names fewer units than the notice designated (the UI must say so)."""
    df = programmes(snap)
    if df is None:
        return pl.DataFrame()
    return df.filter(pl.col("roster_complete").eq(False))


def memberships(snap, province_code: str | None = None) -> pl.DataFrame | None:
    if not snap.has(MEMBERSHIP):
        return None
    where, params = ("where province_code = ?", (province_code,)) if province_code else ("", ())
    return snap.query(
        f"select * from {MEMBERSHIP} {where} order by joined_on desc nulls last, programme_code, unit_code", params
    )


def third_party(snap, province_code: str | None = None) -> pl.DataFrame | None:
    if not snap.has(THIRD_PARTY):
        return None
    where, params = ("where province_code = ?", (province_code,)) if province_code else ("", ())
    return snap.query(
        f"select * from {THIRD_PARTY} {where} order by cycle_first_year desc nulls last, status, unit_code", params
    )


def ambition(snap, unit_code: str | None = None, province_code: str | None = None) -> pl.DataFrame | None:
    """Target ambition with unit, province and indicator names; one unit, one province or all."""
    if not snap.has(AMBITION):
        return None
    conds, params = [], []
    if unit_code:
        conds.append("a.unit_code = ?")
        params.append(unit_code)
    if province_code:
        conds.append("a.province_code = ?")
        params.append(province_code)
    where = ("where " + " and ".join(conds)) if conds else ""
    return snap.query(
        f"""
        select a.*, d.unit_name, d.unit_name_en, d.province_name, i.name_zh as indicator_name,
               i.name_en as indicator_name_en, i.unit
        from {AMBITION} a
        left join {DIM} d on d.unit_code = a.unit_code
        left join (select indicator_code, max(name_zh) as name_zh, max(name_en) as name_en, max(unit) as unit
                   from {DIM_IND} group by indicator_code) i on i.indicator_code = a.indicator_code
        {where}
        order by a.unit_code, a.plan_id, a.indicator_code
        """,
        tuple(params),
    )


def ambition_extract(snap, province_code: str | None = None) -> pl.DataFrame:
    """The ambition table with Chinese headers, growth figures as percentages (download)."""
    df = ambition(snap, province_code=province_code)
    if df is None:
        return pl.DataFrame({h: [] for h in AMBITION_HEADERS.values()})
    pct = ["required_growth", "trend_growth", "peer_median_growth", "peer_p90_growth"]
    return df.with_columns([(pl.col(c) * 100).round(2) for c in pct]).select(
        [pl.col(c).alias(h) for c, h in AMBITION_HEADERS.items()]
    )


def rollup(snap, level: str, period: str | None = None, province_code: str | None = None) -> pl.DataFrame | None:
    if not snap.has(ROLLUP):
        return None
    conds, params = ["rollup_level = ?"], [level]
    if period:
        conds.append("period_label = ?")
        params.append(period)
    if province_code:
        conds.append("province_code = ?")
        params.append(province_code)
    return snap.query(
        f"select * from {ROLLUP} where {' and '.join(conds)} order by mean_index desc nulls last, province_code",
        tuple(params),
    )


def rollup_periods(snap, level: str) -> list[str]:
    if not snap.has(ROLLUP):
        return []
    df = snap.query(
        f"select distinct period_label from {ROLLUP} where rollup_level = ? order by period_label desc", (level,)
    )
    return df["period_label"].to_list()
