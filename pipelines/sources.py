"""The data contract: every source the pipeline ingests, its columns, types, keys and row rules.

This module is the single source of truth for raw table schemas. Loaders, Dagster assets, Great
Expectations suites, the sample generator and dbt sources all follow it. Header aliases let offices send
the Chinese headers they actually use (and units such as 亿元 that are converted on the way in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# Logical types: "str", "int", "float", "date", "bool". Stored in DuckDB as VARCHAR, BIGINT, DOUBLE,
# DATE, BOOLEAN.
DUCKDB_TYPES = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "date": "DATE", "bool": "BOOLEAN"}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    required: bool = True  # a value must be present in every row
    aliases: tuple[str, ...] = ()  # other headers accepted for this column (Chinese headers first)
    min_value: float | None = None
    max_value: float | None = None  # above this a value is "absurd" and the row is quarantined
    allowed: tuple[str, ...] = ()  # enumerations
    region_code: bool = False  # must exist in the administrative divisions
    max_length: int | None = None
    # A header alias that carries another unit: {alias: factor to multiply by}. e.g. 亿元 -> 万元 x 10000.
    unit_aliases: dict[str, float] = field(default_factory=dict)
    # The unit the column is stored in (a key of UNIT_SCALES, or "%" for ratios). A header that names another
    # unit of the same family in brackets (金额(元)), or a "单位：元" line above the table, is converted.
    unit: str | None = None
    # Text identifiers (case numbers, event ids): full/half width, bracket styles and spaces are normalised
    # before keys are compared, so 〔2025〕 and [2025] are the same case.
    identifier: bool = False
    # A column holding a share: 0–1 stored; per cent accepted only when written with % or under a (%) header.
    ratio: bool = False
    # A code column that must hold a city-level unit: a province (xx0000) or national (000000/100000) code
    # there is a total row, not a region.
    city_level: bool = False
    # Headers of a column that names the unit instead of giving its code (地市: 深圳市, 深圳): when the code column
    # is missing, its names are read as codes through the administrative divisions (raw.cities: full or short
    # name); a name that is no unit, or more than one, refuses its row.
    name_headers: tuple[str, ...] = ()
    # A key column offices may leave out (training records kept without an 活动编号): when the file has no such
    # column, each row's value is derived from these columns' typed values (validate.derived_key), the same for
    # the same event whichever file brings it, so a file sent again corrects its rows instead of adding them twice.
    derived_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordRule:
    """numerator / denominator must lie within the seed's [low, high] for ``rule_id``. ``denominator`` is a
    column, or "population_10k" (the unit's year-end residents from raw.population, per capita)."""

    rule_id: str
    numerator: str
    denominator: str
    label: str  # what the ratio is, in the reason text
    label_zh: str  # the same in Chinese (the quality page's reason, pipelines/ingest/reason_labels.py)


@dataclass(frozen=True)
class HistoryRule:
    """``column`` against the median of the same ``unit_column``'s values in the previous ``window`` periods
    (``period_column``) already loaded from other files; a ratio beyond the seed's ``high`` (or below its
    ``low``) quarantines the row."""

    rule_id: str
    column: str
    unit_column: str
    period_column: str
    window_months: int = 24
    min_history: int = 3


@dataclass(frozen=True)
class Source:
    name: str  # landing folder and raw table name
    title_zh: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # unique business key; duplicates are quarantined
    partition_date: str | None = None  # date column whose year is the partition; None = unpartitioned
    # date columns that must not lie after the date of ingestion
    no_future: tuple[str, ...] = ()
    description: str = ""
    # the source's name in English, beside title_zh (the dashboard's and the alerts' name for it)
    title_en: str = ""
    # Plausibility of a record (thresholds in seeds/ingest_plausibility.csv, by rule id).
    record_rules: tuple[RecordRule, ...] = ()
    # Jump of a value against the same unit's own earlier periods already in the warehouse.
    history_rules: tuple[HistoryRule, ...] = ()
    # value columns whose ratio-ness depends on the row's indicator (targets of ratio indicators): the
    # indicator column, and the value columns it governs.
    ratio_by_indicator: tuple[str, tuple[str, ...]] | None = None
    # value columns holding the period's own figure (the month's flow): under a group title saying 累计 (本年累计,
    # 1-3月累计) a header holds a running total, not the period's value (readers.find_header refuses or leaves it).
    period_columns: tuple[str, ...] = ()
    # The code column whose county-level codes add up into their prefecture's figures (int_pledge__unit_year sums
    # a unit's records by code[:4] || '00'). A prefecture's own row whose every figure is the sum of the rows of
    # units inside it for the same period (the same month) is their total row: loaded, it counts them twice.
    parts_add_up: str | None = None

    @property
    def partitioned(self) -> bool:
        return self.partition_date is not None

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


PATENT_TYPES = ("invention", "utility_model", "design")
APPLICANT_TYPES = ("enterprise", "university", "research_institute", "individual", "other")
CASE_TYPES = (
    "patent_infringement_dispute",
    "counterfeit_patent",
    "trademark",
    "ecommerce",
    "trade_fair",
    "geographical_indication",
    "other",
)
RESOLUTIONS = (
    "administrative_ruling",
    "mediation",
    "transferred_to_court",
    "withdrawn",
    "penalty",
    "dismissed",
)
AUDIENCES = ("officials", "enterprises", "service_agencies", "schools", "public")
# promoted: a pilot membership that ended because the unit became a demonstration unit (a dated event, not an exit)
PROGRAMME_STATUSES = ("active", "rectification", "withdrawn", "promoted")
UNIT_LEVELS = (
    "municipality",
    "prefecture",
    "direct_county_group",
    "county_level_city",
    "municipal_district",
)

# The headers of a column of city names a provincial office writes instead of the cities' codes.
CITY_NAME_HEADERS = ("城市", "地市", "城市名称", "地区", "市州", "设区市", "单位", "单位名称", "地市名称")
# The header of a column of districts beside the city's (城市 | 区县 | …): each row is a district's figures, not the
# city's. Read as an extra column it was ignored, and a district's figures loaded as its city's record, silently.
# (Matched after NFKC, without white space.)
DISTRICT_HEADER_PATTERN = (
    r"^(?:所属)?(?:区县|县区|区/县|区\(县\)|县\(区\)|县\(市[、,]?区\)|县市区|县\(市\)区)(?:名称)?$"
)

_TEXT = 200  # longest free text we accept in a name cell; longer is a data error, not a name

CITIES = Source(
    name="cities",
    title_zh="行政区划",
    title_en="Administrative divisions",
    description="Prefecture-level units (GB/T 2260, 2023) plus the county-level programme units, real.",
    key=("city_code",),
    columns=(
        Column("province_code", "str", aliases=("省级代码",), region_code=False),
        Column("province_name", "str", aliases=("省份", "省级名称"), max_length=_TEXT),
        Column("city_code", "str", aliases=("城市代码", "行政区划代码")),
        Column("city_name", "str", aliases=("城市", "城市名称"), max_length=_TEXT),
        Column("city_name_short", "str", aliases=("简称",), max_length=_TEXT),
        Column("level", "str", aliases=("级别",), allowed=UNIT_LEVELS),
        Column("parent_code", "str", required=False, aliases=("上级代码",)),
        Column("pinyin", "str", required=False, aliases=("拼音",), max_length=_TEXT),
        Column("lng", "float", required=False, aliases=("经度",), min_value=73, max_value=136),
        Column("lat", "float", required=False, aliases=("纬度",), min_value=3, max_value=54),
        Column("coord_note", "str", required=False, aliases=("坐标说明",), max_length=_TEXT),
    ),
)

PROGRAMME_CITIES = Source(
    name="programme_cities",
    title_zh="示范/强市名单",
    title_en="Programme roster",
    description=(
        "Programme roster, one row per unit, programme and cohort: real 2012-2016 national IP demonstration cities "
        "and the strong-city pilots/demonstrations public sources name (2022 onwards); status events may be synthetic."
    ),
    key=("city_code", "programme", "cohort"),
    columns=(
        Column("city_code", "str", aliases=("城市代码",), region_code=True),
        Column("unit_name", "str", aliases=("城市", "单位名称"), max_length=_TEXT),
        Column("programme", "str", aliases=("项目",), max_length=_TEXT),
        Column("cohort", "str", aliases=("批次",), max_length=20),
        Column("cohort_year", "int", aliases=("批次年份",), min_value=2000, max_value=2100),
        Column("status", "str", aliases=("状态",), allowed=PROGRAMME_STATUSES),
        Column("status_since", "date", required=False, aliases=("状态起始日期",)),
        Column("withdrawn_on", "date", required=False, aliases=("撤销日期",)),
        Column("source", "str", required=False, aliases=("来源",), max_length=1000),
        # The day the unit joined (notice date); empty = 1 January of cohort_year (the 2012-2016 roster).
        Column("joined_on", "date", required=False, aliases=("批复日期", "入选日期")),
    ),
    no_future=("status_since", "withdrawn_on", "joined_on"),
)

POPULATION = Source(
    name="population",
    title_zh="人口与GDP",
    title_en="Population and GDP",
    description="Year-end resident population (万人) and GDP (亿元) per region and year.",
    key=("region_code", "year"),
    columns=(
        Column("region_code", "str", aliases=("地区代码", "行政区划代码"), region_code=True),
        Column("year", "int", aliases=("年份",), min_value=1949, max_value=2100),
        Column(
            "population_10k",
            "float",
            aliases=("年末常住人口(万人)", "常住人口"),
            min_value=0.01,
            max_value=20000,
            unit="万人",
        ),
        Column(
            "gdp_100m_yuan",
            "float",
            required=False,
            aliases=("地区生产总值(亿元)", "GDP"),
            min_value=0,
            max_value=300000,
            unit_aliases={"gdp_10k_yuan": 0.0001, "地区生产总值(万元)": 0.0001},
            unit="亿元",
        ),
        Column("source", "str", required=False, aliases=("来源",), max_length=1000),
    ),
)

TARGETS = Source(
    name="targets",
    title_zh="建设目标",
    title_en="Plan targets",
    description="Each programme city's construction-plan targets (indicator, baseline and target).",
    key=("city_code", "plan_id", "indicator_code"),
    columns=(
        Column("city_code", "str", aliases=("城市代码",), region_code=True, city_level=True),
        Column("plan_id", "str", aliases=("方案",), max_length=60, identifier=True),
        Column("indicator_code", "str", aliases=("指标代码",), max_length=20, identifier=True),
        Column("baseline_year", "int", aliases=("基期年份",), min_value=2000, max_value=2100),
        Column("baseline_value", "float", aliases=("基期值",), min_value=0),
        Column("target_year", "int", aliases=("目标年份",), min_value=2000, max_value=2100),
        Column("target_value", "float", aliases=("目标值",), min_value=0),
    ),
    ratio_by_indicator=("indicator_code", ("baseline_value", "target_value")),
)

_NONNEG = dict(min_value=0)

PATENT_STATS = Source(
    name="patent_stats",
    title_zh="地区专利统计",
    title_en="Regional patent statistics",
    description="CNIPA-style region-year patent statistics (grants and patents in force by type).",
    key=("region_code", "year"),
    columns=(
        Column("region_code", "str", aliases=("地区代码", "行政区划代码"), region_code=True),
        Column("region_name", "str", required=False, aliases=("地区",), max_length=_TEXT),
        Column("year", "int", aliases=("年份",), min_value=1985, max_value=2100),
        Column("grants_invention", "int", required=False, aliases=("发明专利授权量",), max_value=5_000_000, **_NONNEG),
        Column(
            "grants_utility_model",
            "int",
            required=False,
            aliases=("实用新型专利授权量",),
            max_value=10_000_000,
            **_NONNEG,
        ),
        Column("grants_design", "int", required=False, aliases=("外观设计专利授权量",), max_value=5_000_000, **_NONNEG),
        Column("grants_total", "int", required=False, aliases=("专利授权总量",), max_value=20_000_000, **_NONNEG),
        Column(
            "in_force_invention", "int", required=False, aliases=("发明专利有效量",), max_value=50_000_000, **_NONNEG
        ),
        Column(
            "in_force_utility_model",
            "int",
            required=False,
            aliases=("实用新型专利有效量",),
            max_value=100_000_000,
            **_NONNEG,
        ),
        Column(
            "in_force_design", "int", required=False, aliases=("外观设计专利有效量",), max_value=50_000_000, **_NONNEG
        ),
        Column("in_force_total", "int", required=False, aliases=("有效专利总量",), max_value=200_000_000, **_NONNEG),
        Column("source", "str", required=False, aliases=("来源",), max_length=1000),
    ),
    record_rules=(
        RecordRule(
            "patent_grants_per_capita",
            "grants_total",
            "population_10k",
            "grants per 10k residents",
            "件/万人（每万常住人口授权量）",
        ),
    ),
)

PATENT_GRANTS = Source(
    name="patent_grants",
    title_zh="专利授权记录",
    title_en="Patent grant records",
    description="One row per granted patent (CNIPA bibliographic export).",
    key=("publication_number",),
    partition_date="grant_date",
    no_future=("application_date", "grant_date", "lapse_date"),
    columns=(
        Column("publication_number", "str", aliases=("公告号", "授权公告号"), max_length=20, identifier=True),
        Column("application_number", "str", aliases=("申请号",), max_length=20, identifier=True),
        Column("patent_type", "str", aliases=("专利类型",), allowed=PATENT_TYPES),
        Column("kind_code", "str", aliases=("文献类型",), allowed=("B", "U", "S", "C", "Y", "D")),
        Column("application_date", "date", aliases=("申请日",)),
        Column("grant_date", "date", aliases=("授权公告日",)),
        Column("applicant_name", "str", aliases=("申请人", "第一申请人"), max_length=_TEXT),
        Column("applicant_type", "str", aliases=("申请人类型",), allowed=APPLICANT_TYPES),
        Column("region_code", "str", aliases=("地区代码", "申请人地址代码"), region_code=True),
        Column("ipc_main", "str", required=False, aliases=("主分类号",), max_length=30),
        Column("lapse_date", "date", required=False, aliases=("失效日",)),
        Column("hv_strategic_industry", "bool", aliases=("战略性新兴产业",)),
        Column("hv_overseas_family", "bool", aliases=("海外同族",)),
        Column("hv_maintained_10y", "bool", aliases=("维持10年以上",)),
        Column("hv_pledged", "bool", aliases=("质押融资",)),
        Column("hv_award", "bool", aliases=("专利奖",)),
        Column("is_high_value", "bool", aliases=("高价值专利",)),
    ),
)

PLEDGE_LOANS = Source(
    name="pledge_loans",
    title_zh="知识产权质押融资",
    title_en="Pledge loans",
    description="Monthly IP pledge-loan statistics per city.",
    key=("city_code", "month"),
    partition_date="month",
    no_future=("month",),
    columns=(
        Column(
            "city_code",
            "str",
            aliases=("城市代码", "行政区划代码"),
            region_code=True,
            city_level=True,
            name_headers=CITY_NAME_HEADERS,
        ),
        Column("month", "date", aliases=("月份", "统计月份")),
        # 质押融资笔数: what a 质押融资 group title over 金额（万元） | 笔数 makes of its 笔数 (a two-row header)
        Column(
            "registrations",
            "int",
            aliases=("登记笔数", "质押登记笔数", "质押融资笔数", "融资笔数", "质押笔数"),
            max_value=100_000,
            **_NONNEG,
        ),
        Column(
            "amount_10k_yuan",
            "float",
            aliases=("质押金额(万元)", "融资金额(万元)", "金额(万元)", "质押融资金额(万元)", "质押融资额(万元)"),
            max_value=50_000_000,
            unit="万元",
            unit_aliases={
                "amount_100m_yuan": 10000.0,
                "质押金额(亿元)": 10000.0,
                "金额(亿元)": 10000.0,
                "amount_yuan": 0.0001,
                "质押金额(元)": 0.0001,
            },
            **_NONNEG,
        ),
        Column("patents_pledged", "int", aliases=("质押专利数",), max_value=1_000_000, **_NONNEG),
        Column("trademarks_pledged", "int", aliases=("质押商标数",), max_value=1_000_000, **_NONNEG),
        Column("enterprises_served", "int", aliases=("服务企业数",), max_value=100_000, **_NONNEG),
        Column("first_time_borrowers", "int", aliases=("首贷企业数",), max_value=100_000, **_NONNEG),
    ),
    record_rules=(
        RecordRule(
            "pledge_amount_per_registration", "amount_10k_yuan", "registrations", "万元 per registration", "万元/笔"
        ),
        RecordRule(
            "pledge_amount_per_patent",
            "amount_10k_yuan",
            "patents_pledged",
            "万元 per pledged patent",
            "万元/件质押专利",
        ),
        RecordRule(
            "pledge_amount_per_capita", "amount_10k_yuan", "population_10k", "万元 per 10k residents", "万元/万人"
        ),
    ),
    history_rules=(HistoryRule("pledge_amount_jump", "amount_10k_yuan", "city_code", "month"),),
    parts_add_up="city_code",
    period_columns=(
        "registrations",
        "amount_10k_yuan",
        "patents_pledged",
        "trademarks_pledged",
        "enterprises_served",
        "first_time_borrowers",
    ),
)

ENFORCEMENT_CASES = Source(
    name="enforcement_cases",
    title_zh="行政执法案件",
    title_en="Enforcement cases",
    description="Administrative IP enforcement case records.",
    key=("case_id",),
    partition_date="filed_date",
    no_future=("filed_date", "closed_date"),
    columns=(
        Column("case_id", "str", aliases=("案件编号", "案号", "立案编号"), max_length=40, identifier=True),
        Column("city_code", "str", aliases=("城市代码",), region_code=True, name_headers=CITY_NAME_HEADERS),
        Column("case_type", "str", aliases=("案件类型",), allowed=CASE_TYPES),
        Column("filed_date", "date", aliases=("立案日期",)),
        Column("closed_date", "date", required=False, aliases=("结案日期",)),
        Column("resolution", "str", required=False, aliases=("处理结果",), allowed=RESOLUTIONS),
    ),
)

TRAINING_EVENTS = Source(
    name="training_events",
    title_zh="知识产权培训",
    title_en="Training events",
    description="IP training events held in each city.",
    key=("event_id",),
    partition_date="event_date",
    no_future=("event_date",),
    columns=(
        # Figures (participants, hours) stay out of a derived id: a corrected figure keeps its event's id.
        Column(
            "event_id",
            "str",
            aliases=("活动编号",),
            max_length=40,
            identifier=True,
            derived_from=("city_code", "event_date", "audience", "title"),
        ),
        Column("city_code", "str", aliases=("城市代码",), region_code=True, name_headers=CITY_NAME_HEADERS),
        Column("event_date", "date", aliases=("日期", "培训日期")),
        Column("audience", "str", aliases=("对象", "培训对象"), allowed=AUDIENCES),
        Column("participants", "int", aliases=("参训人数",), min_value=1, max_value=100_000),
        Column("hours", "float", aliases=("学时",), min_value=0.5, max_value=200),
        Column("title", "str", required=False, aliases=("主题",), max_length=_TEXT),
    ),
)

_SCORE = dict(min_value=0, max_value=100)
_FINDINGS = 2000  # a finding is a paragraph, not a report: the full report stays with the evaluator

THIRD_PARTY_EVALUATIONS = Source(
    name="third_party_evaluations",
    title_zh="第三方评估",
    title_en="Third-party evaluations",
    description=(
        "Third-party evaluation (每三年期开展一轮第三方评估) per city and cycle: the evaluator's scores per pillar "
        "(0-100), site visit and document review, with findings. One row per city, cycle, evaluator and report "
        "version; a higher version supersedes a lower one. Template: `ipcity template third-party`."
    ),
    key=("city_code", "cycle_first_year", "cycle_last_year", "evaluator", "report_version"),
    no_future=("evaluated_on", "site_visit_date"),
    columns=(
        Column("city_code", "str", aliases=("城市代码", "行政区划代码"), region_code=True),
        Column("unit_name", "str", required=False, aliases=("城市", "单位名称"), max_length=_TEXT),
        Column("cycle_first_year", "int", aliases=("周期起始年",), min_value=2000, max_value=2100),
        Column("cycle_last_year", "int", aliases=("周期结束年",), min_value=2000, max_value=2100),
        Column("evaluator", "str", aliases=("评估机构",), max_length=_TEXT),
        Column("report_version", "int", aliases=("报告版本", "版本"), min_value=1, max_value=99),
        Column("evaluated_on", "date", aliases=("评估日期", "报告日期")),
        Column("score_mgt", "float", aliases=("管理能力提升工程得分",), **_SCORE),
        Column("score_pro", "float", aliases=("大保护工程得分",), **_SCORE),
        Column("score_utl", "float", aliases=("运用促进工程得分",), **_SCORE),
        Column("score_qlt", "float", aliases=("质量提升工程得分",), **_SCORE),
        Column("score_env", "float", aliases=("发展环境建设工程得分",), **_SCORE),
        Column("site_visit_score", "float", aliases=("现场核查得分",), **_SCORE),
        Column("site_visit_date", "date", required=False, aliases=("现场核查日期",)),
        Column("document_review_score", "float", aliases=("材料审查得分",), **_SCORE),
        Column("findings", "str", required=False, aliases=("主要发现",), max_length=_FINDINGS),
        Column("site_visit_findings", "str", required=False, aliases=("现场核查发现",), max_length=_FINDINGS),
        Column("document_review_findings", "str", required=False, aliases=("材料审查发现",), max_length=_FINDINGS),
    ),
)

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        CITIES,
        PROGRAMME_CITIES,
        POPULATION,
        TARGETS,
        PATENT_STATS,
        PATENT_GRANTS,
        PLEDGE_LOANS,
        ENFORCEMENT_CASES,
        TRAINING_EVENTS,
        THIRD_PARTY_EVALUATIONS,
    )
}

REFERENCE_SOURCES = tuple(s for s in SOURCES.values() if not s.partitioned)
YEARLY_SOURCES = tuple(s for s in SOURCES.values() if s.partitioned)

# Columns every raw table carries besides the contract's, so each row can be traced to its file.
LINEAGE_COLUMNS = {
    "_source_file": "VARCHAR",
    "_file_hash": "VARCHAR",
    "_row_number": "BIGINT",
    "_ingested_at": "TIMESTAMP",
}


def create_table_sql(source: Source) -> str:
    cols = [f"{c.name} {DUCKDB_TYPES[c.dtype]}" for c in source.columns]
    if source.partitioned:
        cols.append("year INTEGER")
    cols += [f"{k} {v}" for k, v in LINEAGE_COLUMNS.items()]
    return f"CREATE TABLE IF NOT EXISTS {source.table} (\n  " + ",\n  ".join(cols) + "\n)"


# ---------------------------------------------------------------------------------------------------------------
# How offices draw their tables: the spellings the readers accept and the rows and cells they refuse.

# (docs/contracts.md lists every one; thresholds live in dbt_project/seeds/ingest_plausibility.csv.)

# Units of one family convert into each other by their scale (1 = the family's base unit).
UNIT_SCALES: dict[str, float] = {
    "元": 1.0,
    "千元": 1e3,
    "万元": 1e4,
    "百万元": 1e6,
    "亿元": 1e8,
    "人": 1.0,
    "万人": 1e4,
}
# Family members in the order a mistaken unit is suspected: 元 and 亿元 are the usual slips for 万元.
UNIT_FAMILIES: dict[str, tuple[str, ...]] = {
    "money": ("元", "亿元", "千元", "万元", "百万元"),
    "people": ("人", "万人"),
}
# Units that may stand in brackets after a count header (登记笔数(笔)): they say what is counted, not a scale.
COUNT_UNITS = ("笔", "件", "个", "家", "户", "人", "次", "人次", "项", "场", "场次", "小时", "学时", "h", "天", "年")
# A unit written without its noun (质押金额（万）, 质押金额/亿, 单位：亿) abbreviates the unit of the column's own family:
# 亿 over an amount is 亿元, 万 over residents 万人. Unknown, 单位：亿 was no unit line: 亿元 figures loaded as 万元.
SHORT_UNITS: dict[str, dict[str, str]] = {
    "百万": {"money": "百万元"},
    "千": {"money": "千元"},
    "万": {"money": "万元", "people": "万人"},
    "亿": {"money": "亿元"},
}
# Words a count cell may carry after its number (12笔, 50人, 3学时): what is counted, not a scale.
COUNT_WORDS_IN_CELLS = ("笔", "件", "个", "家", "户", "人次", "人", "次", "项", "场次", "场", "学时", "课时", "小时")
# A count in tens of thousands (万笔, 万件, 万人次, 千件): no scale of the contract, whose counts are whole numbers. Named
# in a unit line it states the counts' unit (map_headers refuses the file): unread, 单位：万笔、亿元 was no unit line at
# all (万笔 matched no unit word), so its 亿元 figures loaded as 万元 and its 万笔 counts as 笔, silently.
SCALED_COUNT_UNIT = r"(?:百万|千|万|亿)(?:人次|场次|笔|件|个|家|户|次|项|场)"
# A line above the table that states the unit of every money column without one in its header.
# One unit word of a unit line: a scale unit, its short form (not followed by a word: 万家 is no unit), or a count.
_UNIT_WORD = (
    r"(?:" + SCALED_COUNT_UNIT + r"|百万元|千元|万元|亿元|元|万人|人次|场次|学时|小时|人|笔|件|个|家|户|次|项|场|天"
    r"|(?:百万|千|万|亿)(?![\u4e00-\u9fff]))"
)
# The units a line names, listed (单位：笔、亿元; 单位：件，笔，亿元): read whole, so the money unit after a count's is
# found (read from the first word only, 单位：笔、亿元 stated no money unit and 亿元 figures loaded as 万元).
_UNIT_LIST = _UNIT_WORD + r"(?:\s*[、,;]\s*" + _UNIT_WORD + r")*"
# After the word 单位 a slash lists too (单位：户/亿元: counts in 户, money in 亿元; read as 户 alone, the 亿元 figures
# loaded as 万元, silently). Not in a bracket without 单位, where （万元/笔） is a ratio, not the table's unit.
_UNIT_LINE_LIST = _UNIT_WORD + r"(?:\s*[、,;/]\s*" + _UNIT_WORD + r")*"
UNIT_LINE_PATTERN = r"(?:金额)?单位\s*[:：]\s*(" + _UNIT_LINE_LIST + ")"
# A title line that gives the unit in brackets without the word 单位 (2025年3月质押融资统计表（亿元）, （金额：亿元）,
# （万元、笔）): the same statement. Unread, 亿元 figures under a bare 质押金额 loaded as 万元 whenever the plausibility
# rules let them pass. Matched after NFKC (brackets, colons and commas half-width); 元/笔 (a ratio) is no unit line.
TITLE_UNIT_PATTERN = r"\(\s*(?:金额)?(?:单位)?\s*:?\s*(" + _UNIT_LIST + r")\s*(?:[)、,;]|$)"
# The words a table's title ends with (…统计表, …统计, …情况, …汇总): a bracket right after them states the table's
# unit, a count in 万 too (2023年专利授权统计（万件）), as national statistical tables write it; a bracket after a
# measure's name (培训人次（万人次）) is that measure's unit only.
TABLE_TITLE_END = r"(?:表|统计|情况|汇总|一览|明细)\s*$"

# A note below the table stating the unit (注：本表金额单位为亿元): the table's unit, as a line above it would be.
# (Any words before the 单位 whose unit is read: 注：本表笔数单位为万笔，金额单位为亿元 states 亿元 after a first 单位.)
NOTE_UNIT_PATTERN = (
    r"^\s*(?:注|说明|备注).{0,40}?(?:金额)?单位\s*(?:均为|为|是)?\s*[:：]?\s*"
    r"(百万元|千元|万元|亿元|元|万人|人|百万|千|万|亿)(?:[^\u4e00-\u9fff]|$)"  # (no look-ahead in Polars' regex)
)


def full_unit(unit: str | None, column_unit: str | None) -> str | None:
    """``unit`` as the unit of ``column_unit``'s family it abbreviates (万 for a 万元 column is 万元), else as is. A
    unit line naming several units (万人、亿元: readers.unit_line) gives the one of the column's family, else None."""
    family = next((name for name, units in UNIT_FAMILIES.items() if column_unit in units), None)
    if unit and "、" in unit:
        members = [full_unit(u, column_unit) for u in unit.split("、")]
        return next((u for u in members if u in UNIT_FAMILIES.get(family or "", ())), None)
    return SHORT_UNITS.get(unit or "", {}).get(family or "", unit)


# The same note stating counts in tens of thousands (注：本表笔数单位为万笔): refused as a unit line saying it is.
NOTE_COUNT_PATTERN = r"^\s*(?:注|说明|备注).{0,40}?单位\s*(?:均为|为|是)?\s*[:：]?\s*(" + SCALED_COUNT_UNIT + ")"

# A footnote marker after a number (12.5*, 12.5①, 12.5※, 12.5¹, 12.5[1], 12.5注1): "see the note below", not part of
# the figure. Read before NFKC, which turns ① and ¹ into the digit 1: 12.5① loaded as 12.51, silently.
FOOTNOTE_MARKER_PATTERN = (
    r"^(.*\d)\s*(?:[*＊※△▲☆★#＃]{1,3}|[\u2460-\u2473\u2776-\u277f\u2474-\u2487\u2488-\u249b]"
    r"|[\u00b9\u00b2\u00b3\u2070\u2074-\u2079]{1,2}|[\[［(（]\s*(?:注\s*)?\d{1,2}\s*[\]］)）]|注\s*\d{0,2})$"
)

# Rows that sum other rows. A label cell like these, or a province/national code in a city-level column.
# 汇总 labels a total only alone or after a whole area (全省汇总, 深圳市汇总): 专利汇总 may be a title.
TOTAL_LABEL_PATTERN = (
    r"^.{0,16}?(?:合计|小计|总计)(?:[:：()（）]|$)"
    r"|^(?:全省|全市|全区|全县|全国|本省|本市|各市|各地|[\u4e00-\u9fff]{1,8}?[省市区县盟州])?汇总(?:[:：()（）]|$)"
)
# A whole area alone (全省, 全市: a provincial table's total row without 合计; read as a name it was "unknown"). Judged
# after a province or national code in a city column, whose reason says more.
WHOLE_AREA_PATTERN = r"^(?:全省|全市|全区|全县|全国|全州|全盟)(?:[:：()（）]|$)"
# Words and spellings of a period of several months: a range of months (1-3月, 1月至3月, 2025.01-2025.03), a quarter
# (第一季度, 一季度, 1季, Q1), a half year (上半年), a whole year (全年), a year to date (累计, 截至, 截止, 以来, 至今).
# One definition read by a month cell (validate: `several months in month`), a title or file name stating its month
# (readers.stated_month: no one month) and a sheet's name (TOTAL_SHEET_PATTERN): before, each had its own copy and they
# disagreed (a month cell 2025年以来 read "not a date", a sheet named 截至3月 loaded as records, a title 2025年3月（1季）
# stated March). Python's re and Polars' regex both read it (no look-around).
SEVERAL_MONTHS_PATTERN = (
    r"\d{1,2}\s*月?\s*[-—–~～至到]\s*\d{1,2}\s*月|\d{4}\s*[-./]\s*\d{1,2}\s*[-—–~～至到]\s*\d{4}"
    r"|累计|季度|[一二三四1-4]\s*季|(?i:q[1-4])|半年|全年|截至|截止|以来|至今"
)
# A sheet beside other sheets whose name says it sums them (一季度合计, 1-3月累计, 上半年, Q1): its rows are totals of the
# other sheets' months or units, not records. Read as records, a city missing from the month's own sheet loaded the
# quarter's figures as that month's, silently. (汇总 is no such word: a 汇总 sheet is often the compiled table of the
# cities, beside sheets of their districts; its rows are judged as records, as the round-2/3 tests show.)
TOTAL_SHEET_PATTERN = r"合计|小计|总计|" + SEVERAL_MONTHS_PATTERN
# A row of an administration's own level (省本级, 市本级, 本级, 省直, 省级): the province's (or city's) own departments'
# figures, beside its cities' rows. No city's record and no total: read as a name it was "unknown city name".
OWN_LEVEL_PATTERN = r"^(?:[\u4e00-\u9fff]{0,8}?[省市区县州盟])?本级(?:[:：()（）]|$)|^省(?:级|直)(?:[:：()（）]|$)"
OWN_LEVEL_CHARS = ("本级", "省级", "省直")
# Characters every total label holds (a column without any is not searched cell by cell).
TOTAL_LABEL_CHARS = ("计", "汇总", "全省", "全市", "全区", "全县", "全国", "全州", "全盟")
NATIONAL_CODES = ("000000", "100000")

# Excel error values (a formula that failed): the cell has no value; the row is quarantined, never nulled.
EXCEL_ERRORS = (
    "#N/A",
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#NULL!",
    "#SPILL!",
    "#CALC!",
    "#GETTING_DATA",
    "#FIELD!",
    "#BLOCKED!",
    "#CONNECT!",
    "#BUSY!",
    "#UNKNOWN!",
)

# Workbook sheets that explain how to fill the form: skipped by name. Every other sheet is read, or the file
# is refused naming the sheets that cannot be mapped.
# (填报要求, 填表须知, 统计口径, 注意事项, 填报指引, 备注: what templates name that sheet besides 说明.)
INSTRUCTION_SHEET_PATTERN = (
    r"(填报说明|填表说明|填写说明|说明|指标解释|指标说明|目录|封面|填报要求|填表要求|报送要求|须知|口径|注意事项|指引|备注"
    r"|readme|instructions?|notes?)"
)

# A year in a file name followed by one of these words is when the file was sent, not what it holds.
SENDING_WORDS = r"(?:报送|上报|填报|报出|提交|发送|印发|收到|报)"

PLAUSIBILITY_SEED = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "ingest_plausibility.csv"


@lru_cache(maxsize=1)
def plausibility_thresholds() -> dict[str, tuple[float | None, float | None]]:
    """rule_id -> (low, high) from the seed dbt also loads (one place for every ingestion threshold)."""
    import csv

    out: dict[str, tuple[float | None, float | None]] = {}
    with open(PLAUSIBILITY_SEED, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["rule_id"]] = (
                float(row["low"]) if row["low"] not in ("", None) else None,
                float(row["high"]) if row["high"] not in ("", None) else None,
            )
    return out


@lru_cache(maxsize=1)
def ratio_indicators() -> frozenset[str]:
    """Indicator codes whose values are shares (unit 比率 in the catalog seed): targets for them are 0–1."""
    import csv

    catalog = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "indicator_catalog.csv"
    with open(catalog, encoding="utf-8") as f:
        return frozenset(r["indicator_code"] for r in csv.DictReader(f) if r["unit"] == "比率")
