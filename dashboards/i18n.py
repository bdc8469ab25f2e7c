"""UI text in 简体中文 (default) and English. Data labels (unit and indicator names) come from the snapshot."""

from __future__ import annotations

from pipelines.labels import label_set

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

TEXT: dict[str, tuple[str, str]] = {
    "app_title": ("知识产权强市建设监测评价平台", "IP Strong-City Monitor"),
    "nav_overview": ("年度总览", "Overview"),
    "nav_rankings": ("排名", "Rankings"),
    "nav_compare": ("城市对比", "City comparison"),
    "nav_profile": ("城市画像", "City profile"),
    "nav_watchlist": ("退出预警", "Watchlist"),
    "nav_quality": ("数据质量", "Data quality"),
    "nav_downloads": ("数据下载", "Downloads"),
    "year": ("年份", "Year"),
    "province": ("省份", "Province"),
    "all_provinces": ("全部省份", "All provinces"),
    "all_cities": ("全部城市", "All cities"),
    "group": ("绩效分组", "Performance group"),
    "stage": ("评价阶段", "Evaluation stage"),
    "city": ("城市", "City"),
    "cities": ("城市", "Cities"),
    "indicator": ("指标", "Indicator"),
    "programme_only": ("仅示范/试点城市", "Programme cities only"),
    "not_available": ("暂无数据（该数据表尚未生成）", "Not yet available (this table has not been built yet)"),
    "no_snapshot": (
        "尚未发布数据快照，请先运行数据流水线。",
        "No published data snapshot yet — run the pipeline first.",
    ),
    "wrong_snapshot_version": (
        "数据快照版本为 {found}，本平台只读取版本 {expected}：请用匹配的流水线重新发布（ipcity run --rebuild）。",
        "The data snapshot has schema version {found}; this dashboard reads version {expected} only — publish it "
        "again with the matching pipeline (ipcity run --rebuild).",
    ),
    "synthetic_banner": (
        "数据说明：质押融资、执法案件、培训活动、城市人口与GDP、专利授权记录为合成示例数据；"
        "省级面板、行政区划与示范城市名单为真实数据。",
        "About the data: pledge loans, enforcement cases, training events, city population/GDP and patent grant "
        "records are synthetic sample data; the province panel, administrative divisions and the programme "
        "roster are real.",
    ),
    "snapshot_version": ("数据快照", "Snapshot"),
    # overview
    "ov_programme_units": ("示范/试点城市数", "Programme units"),
    "ov_median_index": ("综合指数中位数", "Median composite index"),
    "ov_leaders": ("领先组城市", "Leader-group units"),
    "ov_on_watch": ("关注及整改城市", "On watch / in rectification"),
    "ov_exit": ("退出候选城市", "Exit-candidate units"),
    "ov_improved": ("排名上升城市", "Units that moved up"),
    "ov_map_title": ("城市分布（按绩效分组着色）", "Cities by performance group"),
    "ov_dist_title": ("综合指数分布（示范城市均值=100）", "Composite index distribution (programme average = 100)"),
    "ov_movers_title": ("排名变化最大的城市", "Biggest movers in rank"),
    "lng": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "composite_index": ("综合指数", "Composite index"),
    "composite": ("综合得分", "Composite score"),
    "rank": ("排名", "Rank"),
    "rank_interval": ("排名区间(5%–95%)", "Rank interval (5–95%)"),
    "median_rank": ("排名中位数", "Median rank"),
    "rank_change": ("排名变化", "Rank change"),
    "index_change": ("指数变化", "Index change"),
    "non_programme": ("非示范城市", "Not in programme"),
    "units_count": ("城市数", "Units"),
    # rankings
    "rk_title": ("城市综合排名", "City rankings"),
    "rk_hint": (
        "点击列标题排序，使用列筛选器按省份、分组、阶段筛选。",
        "Click a column header to sort; use the column filters for province, group and stage.",
    ),
    # compare
    "cmp_pick": ("选择2–6个城市", "Pick 2–6 cities"),
    "cmp_need_two": ("请至少选择两个城市。", "Select at least two cities."),
    "cmp_radar": ("分项得分雷达图", "Pillar scores"),
    "cmp_trend": ("指标趋势", "Indicator trend"),
    "cmp_table": ("并列对比", "Side by side"),
    "cmp_sw": ("相对示范城市平均水平的优势与短板", "Strengths and weaknesses against the programme average"),
    "strengths": ("优势", "Strengths"),
    "weaknesses": ("短板", "Weaknesses"),
    "programme_avg": ("示范城市平均", "Programme average"),
    "diff_vs_avg": ("与平均水平差值", "Difference from average"),
    # profile
    "pf_pick": ("选择城市", "Choose a city"),
    "pf_indicators": ("各项指标趋势与目标", "Indicators: trend and target"),
    "pf_targets": ("目标完成情况", "Target status"),
    "pf_values": (
        "指标数值与溯源（点击数值查看公式、输入与来源行）",
        "Indicator values and provenance (click a value)",
    ),
    "prov_pick": (
        "点击上表中的数值，查看其公式、输入数据和来源文件行号。",
        "Click a value above to see its formula, inputs and source rows.",
    ),
    "prov_value": ("指标值", "Value"),
    "prov_score": ("标准化得分", "Normalised score"),
    "prov_imputed": ("本年缺报，沿用{year}年数值", "missing this year, carried forward from {year}"),
    "prov_formula": ("计算公式", "Formula"),
    "prov_inputs": ("输入数据（{year}年）", "Inputs ({year})"),
    "prov_no_inputs": ("该指标值没有可追溯的输入。", "No inputs recorded for this value."),
    "prov_sources": ("来源文件与行号", "Source files and rows"),
    "prov_no_rows": ("该年没有来源数据行。", "No source rows for this year."),
    "prov_source": ("数据来源", "Source"),
    "prov_file": ("文件", "File"),
    "prov_rows": ("行数", "Rows"),
    "prov_row_numbers": ("行号", "Row numbers"),
    "prov_loaded": ("入库时间", "Loaded at"),
    "normalised_score": ("标准化得分", "Score"),
    "pf_stages": ("评价阶段历史", "Evaluation stage history"),
    "pf_stage_rows": ("各年评价明细", "Evaluation by year"),
    "pf_cycles": ("周期评价结论", "Cycle verdicts"),
    "pf_alerts": ("预警记录", "Alert history"),
    "pf_no_alerts": ("无预警记录。", "No alerts."),
    "target": ("目标", "Target"),
    "value": ("数值", "Value"),
    "rules_fired": ("触发规则", "Rules fired"),
    "robust": ("稳健", "Robust"),
    "not_robust": ("不稳健", "Not robust"),
    "share_bottom": ("末位组概率", "Bottom-group share"),
    "share_bottom_hint": (
        "1000次权重与方法扰动中处于末位绩效组的比例",
        "Share of 1,000 weight and method perturbations placing the city in the bottom group",
    ),
    "targets_lagging": ("滞后目标", "Lagging targets"),
    "not_assessed": ("未评估", "Not assessed"),
    "rank_all": ("全部城市排名", "Rank among all cities"),
    "programme_status": ("示范城市", "Programme"),
    "programme_member": ("参评示范城市", "Ranked programme unit"),
    "not_ranked_member": ("名单内未参评", "On roster, not ranked"),
    "complete": ("已完成", "Complete"),
    "in_progress": ("进行中", "In progress"),
    "plan": ("规划", "Plan"),
    "baseline": ("基期值", "Baseline"),
    "current": ("当前值", "Current"),
    "progress": ("进度指数", "Progress index"),
    "status": ("状态", "Status"),
    "cycle": ("周期", "Cycle"),
    "verdict": ("结论", "Verdict"),
    "evidence": ("依据", "Evidence"),
    "alert_type": ("预警类型", "Alert type"),
    "message": ("说明", "Message"),
    "created_at": ("时间", "Created"),
    # watchlist
    "wl_title": ("关注、整改与退出候选城市", "Cities on watch, in rectification and exit candidates"),
    "wl_empty": ("本年度没有关注、整改或退出候选城市。", "No cities on the watchlist this year."),
    "dossier": ("评价档案", "Dossier"),
    "dossier_missing": ("未生成", "not generated"),
    "profile_link": ("城市画像", "Profile"),
    "robustness": ("稳健性", "Robustness"),
    # quality
    "dq_runs": ("最近运行", "Latest runs"),
    "dq_checks": ("校验结果", "Check results"),
    "dq_rejections": ("隔离数据（按来源与原因）", "Quarantined rows by source and reason"),
    "dq_sources": ("数据来源与性质", "Sources and what is synthetic"),
    "run_id": ("运行编号", "Run"),
    "source": ("来源", "Source"),
    "reason": ("原因", "Reason"),
    "rows": ("行数", "Rows"),
    "files": ("文件数", "Files"),
    "rows_read": ("读取行数", "Rows read"),
    "rows_loaded": ("入库行数", "Rows loaded"),
    "rows_rejected": ("拒绝行数", "Rows rejected"),
    "started": ("开始时间", "Started"),
    "check_name": ("校验项", "Check"),
    "asset": ("数据资产", "Asset"),
    "severity": ("级别", "Severity"),
    "passed": ("通过", "Passed"),
    "failed": ("未通过", "Failed"),
    "observed": ("观测值", "Observed"),
    "expectation": ("校验规则", "Expectation"),
    "partition": ("分区", "Partition"),
    "dq_checks_run": ("校验项次", "Checks run"),
    "dq_failed_error": ("未通过（错误级）", "Failed (error)"),
    "dq_failed_warn": ("未通过（警告级）", "Failed (warning)"),
    "dq_rows_loaded": ("入库行数", "Rows loaded"),
    "dq_rows_rejected": ("隔离行数", "Rows quarantined"),
    "dq_by_source": ("各来源入库与隔离行数", "Rows loaded and quarantined by source"),
    "dq_no_rejections": ("本次运行没有被隔离的数据行。", "No rows were quarantined in this run."),
    "nature": ("性质", "Nature"),
    "real": ("真实数据", "Real"),
    "synthetic": ("合成示例数据", "Synthetic sample"),
    # downloads
    "dl_title": ("指标数据下载", "Indicator extract"),
    "dl_scope": ("范围", "Scope"),
    "dl_format": ("格式", "Format"),
    "dl_button": ("下载", "Download"),
    "dl_rows": ("共 {n} 行", "{n} rows"),
    "dl_note": (
        "CSV为带BOM的UTF-8编码，可直接用Excel打开；表头为中文。",
        "CSV is UTF-8 with BOM so Excel opens it directly; headers are in Chinese.",
    ),
    "dl_denied": ("无权下载该范围的数据。", "You are not allowed to download this scope."),
}

# Code labels come from the labels seed (dbt_project/seeds/labels.csv) through the one loader.
GROUPS = label_set("performance_group")
STAGES = label_set("stage")
TARGET_STATUS = label_set("target_status")
PROGRAMME_STATUS = label_set("programme_status")
SEVERITY = {"error": ("错误", "Error"), "warn": ("警告", "Warning")}
SOURCE_NAMES = {
    "cities": ("行政区划", "cities"),
    "programme_cities": ("示范城市名单", "programme_cities"),
    "population": ("人口与GDP", "population"),
    "targets": ("规划目标", "targets"),
    "patent_stats": ("省级专利统计", "patent_stats"),
    "patent_grants": ("专利授权记录", "patent_grants"),
    "pledge_loans": ("质押融资", "pledge_loans"),
    "enforcement_cases": ("执法案件", "enforcement_cases"),
    "training_events": ("培训活动", "training_events"),
}
ALERT_TYPES = {
    "behind_target": ("目标滞后", "Behind target"),
}
PLANS = {
    "plan_2016_2020": ("2016–2020年规划", "Plan 2016–2020"),
    "plan_2021_2025": ("2021–2025年规划", "Plan 2021–2025"),
}
PILLAR_COLUMNS = {"MGT": "score_mgt", "PRO": "score_pro", "UTL": "score_utl", "QLT": "score_qlt", "ENV": "score_env"}
PILLAR_NAMES = {
    "MGT": ("管理能力", "Management"),
    "PRO": ("大保护", "Protection"),
    "UTL": ("运用", "Utilisation"),
    "QLT": ("质量", "Quality"),
    "ENV": ("发展环境", "Environment"),
}


# Official English names of the provincial-level divisions, by the first two digits of the code.
PROVINCE_EN = {
    "11": "Beijing",
    "12": "Tianjin",
    "13": "Hebei",
    "14": "Shanxi",
    "15": "Inner Mongolia",
    "21": "Liaoning",
    "22": "Jilin",
    "23": "Heilongjiang",
    "31": "Shanghai",
    "32": "Jiangsu",
    "33": "Zhejiang",
    "34": "Anhui",
    "35": "Fujian",
    "36": "Jiangxi",
    "37": "Shandong",
    "41": "Henan",
    "42": "Hubei",
    "43": "Hunan",
    "44": "Guangdong",
    "45": "Guangxi",
    "46": "Hainan",
    "50": "Chongqing",
    "51": "Sichuan",
    "52": "Guizhou",
    "53": "Yunnan",
    "54": "Tibet",
    "61": "Shaanxi",
    "62": "Gansu",
    "63": "Qinghai",
    "64": "Ningxia",
    "65": "Xinjiang",
}


def province_col(lang: str | None) -> str:
    return "province_name_en" if norm_lang(lang) == "en" else "province_name"


def norm_lang(lang: str | None) -> str:
    return lang if lang in LANGS else DEFAULT_LANG


def t(key: str, lang: str | None) -> str:
    zh, en = TEXT[key]
    return en if norm_lang(lang) == "en" else zh


def label(mapping: dict[str, tuple[str, str]], code: str | None, lang: str | None) -> str:
    if code is None:
        return ""
    pair = mapping.get(code)
    if pair is None:
        return str(code)
    return pair[1] if norm_lang(lang) == "en" else pair[0]


def name_col(lang: str | None) -> str:
    """Column of dim_city holding the unit's name in this language."""
    return "unit_name_en" if norm_lang(lang) == "en" else "unit_name"
