"""UI text in 简体中文 (default) and English. Data labels (unit and indicator names) come from the snapshot."""

from __future__ import annotations

from pipelines.china_time import ZONE_NAME
from pipelines.labels import label_set, label_text, load_labels
from pipelines.sources import SOURCES as _SOURCES

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

_LABELS = load_labels()  # the labels seed, for the TEXT entries that are seed labels

TEXT: dict[str, tuple[str, str]] = {
    "app_title": ("知识产权强市建设监测评价平台", "IP Strong-City Monitor"),
    "nav_overview": ("年度总览", "Overview"),
    "nav_rankings": ("排名", "Rankings"),
    "nav_compare": ("城市对比", "City comparison"),
    "nav_profile": ("城市画像", "City profile"),
    "nav_watchlist": ("整改/退出风险名单", "Watchlist"),
    "nav_alerts": ("预警", "Alerts"),
    "nav_quality": ("数据质量", "Data quality"),
    "nav_downloads": ("数据下载", "Downloads"),
    "nav_targets": ("目标进展", "Target progress"),
    "report_button": ("下载年度报告（PDF）", "Annual report (PDF)"),
    "report_city_button": ("下载城市评价报告（PDF）", "City report (PDF)"),
    "nav_flag": ("为何被标记", "Why this city is flagged"),
    "fl_why": ("触发的规则与阈值", "Rules that fired and their thresholds"),
    "fl_no_rules": ("本年度未触发任何规则。", "No rule fired this year."),
    "fl_next": ("下一步及时间", "What happens next, and by when"),
    "fl_history": ("历年综合指数与排名（阴影为5%–95%排名区间）", "Index and rank by year (band: 5–95% rank interval)"),
    "fl_robust_rule": (
        "只有在至少 {share} 的权重与方法扰动中仍满足条件，结论才视为稳健；不稳健的结论转人工复核。",
        "A flag is robust only when the condition holds in at least {share} of the weight and method "
        "perturbations; a non-robust flag goes to manual review.",
    ),
    "fl_pick_from_watchlist": (
        "请从整改/退出风险名单或城市画像页面进入，查看某城市被标记的原因。",
        "Open this page from the watchlist or a city profile to see why a city is flagged.",
    ),
    # the flag page opened without a city (or with a code no city has): what to do, with the ways there
    "fl_no_city": ("未选择城市。", "No city chosen."),
    "fl_unknown_city": (
        "链接中的行政区划代码“{code}”不存在。",
        "The link's unit code “{code}” does not exist.",
    ),
    "fl_open_watchlist": ("打开整改/退出风险名单，点选城市", "Open the watchlist and choose a city"),
    "fl_open_overview": ("返回总览", "Back to the overview"),
    "fl_link": ("为何被标记", "Why flagged"),
    "fl_general_rules": ("通用规则", "General rules"),
    # a link's year the published data do not hold (components.unknown_year_notice)
    "unknown_year": (
        "链接中的年份“{year}”没有数据，下面显示的是最新年份（{shown}年）。",
        "The link's year “{year}” has no data: the latest year ({shown}) is shown below.",
    ),
    "pf_unknown_unit": (
        "链接中的行政区划代码“{code}”不存在，下面显示的是默认城市（排名第一）。",
        "The link's unit code “{code}” does not exist; the default city (ranked first) is shown below.",
    ),
    "rank_axis": ("排名（1=最好）", "Rank (1 = best)"),
    "tg_hint": (
        "示范/试点城市建设方案目标的完成情况（最新数据年份）。",
        "Progress of the programme cities' construction-plan targets (latest data year).",
    ),
    "tg_all_plans": ("全部规划", "All plans"),
    "tg_by_plan": ("按规划：目标状态占比", "Target status by plan"),
    "tg_by_province": ("按省份", "By province"),
    "tg_by_city": ("按城市", "By city"),
    "tg_most_lagging": ("进展最滞后的目标", "Most-lagging targets"),
    "tg_lagging": ("滞后（进展有限或恶化）", "Lagging (limited progress or deteriorating)"),
    "tg_targets": ("目标数", "Targets"),
    "tg_share_axis": ("目标占比（%）", "Share of targets (%)"),
    # every status of the chart below, so the counts add up to the total ({parts}: "已实现238项，…")
    "tg_summary": ("共{total}项目标{as_of}：{parts}。", "{targets}{as_of}: {parts}."),
    "tg_summary_part": ("{label}{n}项", "{label}: {n}"),
    "tg_as_of": ("（数据截至 {years} 年）", " (data as of {years})"),
    "target_invalid_short": ("无效目标", "Invalid target"),
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
    # three different empty states: not built (above), built but empty, and not applicable
    "no_data": ("暂无数据（该年份或城市没有记录）", "No data (nothing recorded for this year or unit)"),
    "no_data_short": ("无数据", "no data"),
    "na_not_programme": (
        "不适用：该城市不是示范/试点城市，不参加评价。",
        "Not applicable: this unit is not in the programme and is not evaluated.",
    ),
    "na_first_year": (
        "不适用：这是评价首年，没有上一年排名可比。",
        "Not applicable: first evaluation year, there is no previous ranking to compare with.",
    ),
    "na_short": ("不适用", "n/a"),
    "no_movers": ("本年度没有排名变化的城市。", "No unit changed rank this year."),
    "score_0_100": ("得分（0–100）", "Score (0–100)"),
    "rank_change_axis": ("排名变化（名次，正数=上升）", "Rank change (places, positive = up)"),
    "composite_index_axis": ("综合指数（示范城市均值=100）", "Composite index (programme average = 100)"),
    "units_count_axis": ("城市数（个）", "Units (count)"),
    "progress_beyond": (
        "进度指数为 {value}%，超出 ±100% 的范围：基期值与目标值相差很小，现值的小幅变化即被放大为很大的百分数。"
        "请以现值与状态判断。",
        "Progress index {value}%, beyond ±100%: baseline and target are close, so a small change in the current "
        "value becomes a very large percentage. Read the current value and the status.",
    ),
    "progress_beyond_note": (
        "标 * 的进度指数超出 ±100%（基期值与目标值相差很小，百分数被放大），实际值见悬停提示。",
        "* Progress index beyond ±100% (baseline and target close, so the percentage is magnified); hover for "
        "the value.",
    ),
    "progress_hint": (
        "进度指数 =（当前值 − 基期值）÷（目标值 − 基期值），以百分数表示：100 表示已达到目标，50 表示完成了一半，"
        "负数表示较基期倒退。状态另按实际增速与按期完成所需增速之比判定。",
        "Progress index = (current − baseline) ÷ (target − baseline), in per cent: 100 = target reached, 50 = half "
        "way, negative = worse than the baseline. The status also compares the growth achieved with the growth "
        "needed to reach the target on time.",
    ),
    "target_invalid": (
        "目标无效（目标值缺失、为0或未超出基期值）",
        "Invalid target (missing, zero or not beyond its baseline)",
    ),
    "rows_shown": ("显示{shown}/共{total}行", "Showing {shown} of {total_rows}"),
    "units_shown": ("城市数：{shown} / {total}", "Units: {shown} of {total}"),
    "page_not_found": ("页面不存在（404）", "Page not found (404)"),
    "back_home": ("返回年度总览", "Back to the overview"),
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
        "数据说明：质押融资、执法案件、培训活动、城市人口与GDP、城市专利统计及专利授权记录为合成示例数据"
        "（城市专利统计按真实省级总量全量校准，量级与公开数据相当）；省级面板、行政区划与示范城市名单为真实数据。",
        "About the data: pledge loans, enforcement cases, training events, city population/GDP, city patent "
        "statistics and patent grant records are synthetic sample data (city patent statistics are full-volume and "
        "add up to the real province totals, so magnitudes are of the real order); the province panel, "
        "administrative divisions and the programme roster are real.",
    ),
    # the banner of a snapshot whose synthetic sources are not the documented sample's (e.g. the offices' files)
    "data_banner": ("数据说明：{note}", "About the data: {note}"),
    "ft_year": ("数据截至 {year} 年度", "Data up to evaluation year {year}"),
    "ft_published": ("发布于 {at}（运行 {run}）", "published {at} (run {run})"),
    # a publication time that carries its zone, shown in Beijing time (formatting.beijing_time)
    "ft_published_tz": (
        f"发布于 {ZONE_NAME['zh']} {{at}}（运行 {{run}}）",
        f"published {{at}} {ZONE_NAME['en']} (run {{run}})",
    ),
    # the zone's name as every surface writes it (pipelines.china_time: one definition for the CLI, mails and pages)
    "tz_beijing": (ZONE_NAME["zh"], ZONE_NAME["en"]),
    "ft_versions": ("指标体系 {catalog} · 评价规则 {rules}", "indicator catalog {catalog} · rules {rules}"),
    "ft_release": ("发布编号 {release}", "release {release}"),
    "ft_not_released": ("尚未正式发布（当前数据）", "not yet formally released (current data)"),
    # (not "see the data-quality page": a province account may not open it; the banner lists the sources)
    "ft_synthetic": (
        "城市层面数据为合成示例数据（见页首数据说明）",
        "city-level data are a synthetic sample (see the note above)",
    ),
    # overview
    "ov_programme_units": ("示范/试点城市数", "Programme units"),
    "ov_median_index": ("综合指数中位数", "Median composite index"),
    "ov_leaders": ("领先组城市", "Leader-group units"),
    "ov_on_watch": ("关注及整改城市", "On watch / in rectification"),
    "ov_exit": ("退出候选城市", "Exit-candidate units"),
    # a provincial office's cards count its own province's flagged cities, as its watchlist lists them
    "ov_on_watch_own": ("本省关注及整改城市", "On watch / in rectification, own province"),
    "ov_exit_own": ("本省退出候选城市", "Exit-candidate units, own province"),
    "ov_improved": ("排名上升城市", "Units that moved up"),
    # under each card: whose figure it is and of which year (a provincial office took the national count for its own)
    "card_scope_national": ("全国 · {year}年", "Nationwide · {year}"),
    "card_scope_province": ("{province} · {year}年", "{province} · {year}"),
    "card_scope_own": ("{year}年", "{year}"),  # beside a title that says 本省 / own province
    # a chart's title says its year: the year picker above is not in a chart copied into a report
    "title_year": ("{title} · {year}年", "{title} · {year}"),
    # the map's title short enough for a phone's 390 px screen (a Plotly title does not wrap: the map, fitted to
    # the screen, cut "城市分布（按绩效分组着色，点击城市…" without its year), what a click does in its subtitle
    "ov_map_title": ("城市绩效分组", "Performance groups"),
    "ov_map_title_index": ("城市综合指数", "Composite index map"),
    "ov_map_hint": ("点击城市查看画像", "Click a city for its profile"),
    "ov_map_mode": ("地图着色", "Map colour"),
    # under the index map's colour bar: whether a colour means the same index in every year
    "map_scale_all_years": ("各年度统一色标 {range}", "same scale every year, {range}"),
    "map_scale_this_year": ("仅本年度色标", "this year's scale only"),
    "ov_provinces": ("各省汇总", "Province summary"),
    "ov_prog_units": ("示范城市数", "Programme units"),
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
    "measure": ("指标", "Measure"),
    "code": ("代码", "Code"),
    "index_change": ("指数变化", "Index change"),
    "non_programme": ("非示范城市", "Not in programme"),
    "map_no_data": ("无城市数据", "No city data"),
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
    # the colour bar's title says its unit: the cells are 0–100 scores minus the programme average, in points
    "cmp_heat_title": ("各项指标：得分与平均之差", "By indicator: score minus the average"),
    "diff_vs_avg": ("与示范城市平均得分之差（分）", "Score minus programme average (points)"),
    "points_short": ("分", "pts"),
    # an evaluation stage the account may not see (another province's, access.published_rankings)
    "stage_withheld": ("未公开", "not published"),
    # the compare heatmap's colour bar: its range (±, points) and whose it is
    "heat_scale_year": ("{year}年全部城市统一色标 ±{extent}", "one scale for all cities of {year}, ±{extent}"),
    "heat_scale_chosen": ("仅所选城市色标 ±{extent}", "scale of the chosen cities only, ±{extent}"),
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
    "pf_acceptance": ("验收评分、发布与变动归因", "Acceptance score, release and change attribution"),
    "acceptance_score": ("验收评分", "Acceptance score"),
    "acceptance_band": ("验收结论", "Acceptance band"),
    # issue 17: the acceptance score combines the indicator-based and the third-party evaluation scores
    "acceptance_indicator_score": ("指标得分", "Indicator-based score"),
    "acceptance_third_party_score": ("第三方评估得分", "Third-party score"),
    "acceptance_combined_hint": (
        "验收评分 =（1 − 第三方权重）× 指标得分 + 第三方权重 × 第三方评估得分；无第三方评估时显示“第三方评估待定”，不给出结论",
        "Acceptance score = (1 − third-party weight) × indicator-based score + third-party weight × third-party "
        "score; without a third-party evaluation it shows “third-party evaluation pending” and no band",
    ),
    "third_party_by": ("评估机构", "Evaluator"),
    "report_version_short": ("版本", "version"),
    "acceptance_hint": (
        "绝对评分（0–100）：建设目标完成度与对标全国水平；{bands}",
        "Absolute score (0–100): plan targets and levels against the national benchmark; {bands}",
    ),
    "release_id": ("发布编号", "Release"),
    # the versions a release was made of, beside its id on the profile (its Chinese read "data …, catalog …, rules …")
    "release_versions": (
        "数据版本 {data}，指标体系 {catalog}，评价规则 {rules}，程序版本 {code}",
        "data {data}, catalog {catalog}, rules {rules}, code {code}",
    ),
    "as_released": ("发布时结论", "As released"),
    "not_released": ("尚未发布（当前数据）", "Not released yet (current data)"),
    # the labels seed's wording (current_data_differ), the one the alert, the dossier and the profile's line use
    "differs_from_release": (label_text("current_data_differ", "zh"), label_text("current_data_differ", "en")),
    "level_detail": ("对标明细（本市 / 全国 = 得分）", "Level indicators (city / national = points)"),
    "attribution": ("指数变动归因", "Index change attribution"),
    # the attribution splits the change of the unrounded indices exactly; the change a city reads elsewhere is the
    # change of the published figures (fct_city_score_year.index_change), so the split says which one it is
    "attribution_unrounded": ("未取整指数之差", "of the unrounded indices"),
    "part_indicators": ("指标变化", "Indicator values"),
    "part_catalog": ("目录/权重变化", "Catalog / weights"),
    "part_rescaling": ("同组重标定", "Rescaling (peers)"),
    "part_revision": ("数据修订", "Data revision"),
    "national_benchmark": ("全国基准", "National benchmark"),
    "pf_no_alerts": ("无预警记录。", "No alerts."),
    "target": ("目标", "Target"),
    "value": ("指标值", "Indicator value"),
    "unit": ("单位", "Unit"),
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
    # a cycle a new calendar took over before its last year (a pilot promoted mid-cycle): judged, not running
    "cut_short_judged": ("提前结束，{year}年评定", "Cut short, judged in {year}"),
    # what judged a cycle (evaluation_text.cycle_judged_by_text): the verdict by the rules in force in the last
    # evaluated year and that year's group; each year's stage by its own year's rules and group
    "judged_by": ("评定依据", "Judged by"),
    "judged_by_verdict": (
        "结论：规则 {version}（末评年度在用）",
        "verdict: rules {version} (in force in the last evaluated year)",
    ),
    "judged_by_group": ("，末年组别 {group}", ", group of the last year {group}"),
    "judged_by_years_rules": ("；各年阶段按当年规则 {years}", "; each year's stage by that year's rules {years}"),
    "judged_by_years_groups": ("；各年阶段按当年组别 {years}", "; each year's stage in that year's group {years}"),
    # which catalogs the cycle's index change compares (evaluation_text.cycle_judged_by_text): the published change
    # is judged, and across a catalog change it is said, with the like-for-like change beside it
    "judged_by_catalog_same": (
        "；指数变化同口径（目录 {version}）",
        "; index change like-for-like (catalogue {version})",
    ),
    "judged_by_catalog_across": (
        "；指数变化跨目录 {old} → {new}，非同口径（基年按 {new} 权重重算的变化 {same}）",
        "; index change across catalogues {old} → {new}, not like-for-like (change with the baseline re-weighted "
        "by {new}: {same})",
    ),
    "plan": ("规划", "Plan"),
    "baseline": ("基期值", "Baseline"),
    "current": ("当前值", "Current"),
    "progress": ("进度指数(%)", "Progress index (%)"),
    "status": ("状态", "Status"),
    "cycle": ("周期", "Cycle"),
    "verdict": ("结论", "Verdict"),
    "evidence": ("依据", "Evidence"),
    "alert_type": ("预警类型", "Alert type"),
    "message": ("说明", "Message"),
    "created_at": (f"时间（{ZONE_NAME['zh']}）", f"Created ({ZONE_NAME['en']})"),
    # watchlist
    "wl_title": ("关注、整改与退出候选城市", "Cities on watch, in rectification and exit candidates"),
    "wl_links": ("原因与档案", "Why and dossier"),
    "wl_empty": ("本年度没有关注、整改或退出候选城市。", "No cities on the watchlist this year."),
    # a provincial office sees its own province's cities only: "this year" alone would read as the whole country
    "wl_empty_province": (
        "本省本年度没有关注、整改或退出候选城市。",
        "No cities of your province on the watchlist this year.",
    ),
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
    "source_name": ("名称", "Name"),
    "reason": ("原因", "Reason"),
    "rows": ("行数", "Rows"),
    "files": ("文件数", "Files"),
    "rows_read": ("读取行数", "Rows read"),
    "rows_loaded": ("入库行数", "Rows loaded"),
    "rows_rejected": ("拒绝行数", "Rows rejected"),
    "started": ("开始时间", "Started"),
    "check": ("校验项", "Check"),
    "asset": ("数据资产", "Asset"),
    "severity": ("级别", "Severity"),
    "passed": ("通过", "Passed"),
    "failed": ("未通过", "Failed"),
    "observed": ("观测值", "Observed"),
    "expectation": ("校验规则", "Expectation"),
    "partition": ("分区", "Partition"),
    "dq_checks_run": ("校验项次", "Checks run"),
    "check_engine": ("检查引擎", "Engine"),
    "failing_rows": ("未通过行数", "Failing rows"),
    "dq_history": ("检查历史：同一检查在最近各次运行中的结果", "Check history: the same check across the latest runs"),
    "dq_failed_run_shown": (
        "最近一次运行（{run}，检查结果发布于 {at}）未通过阻断性检查或构建失败，数据未发布：本页显示该次运行的检查结果，"
        "其他页面的数据仍为上一次成功发布的版本（运行 {release}）。",
        "The latest run ({run}, its checks published {at}) failed a blocking check or its build, so its data "
        "was not published: this page shows that run's check results, while the figures on the other pages are "
        "still the last successful release (run {release}).",
    ),
    "dq_technical_name": ("技术名称", "Technical name"),
    "dq_history_none": ("最近各次运行中没有未通过的检查。", "No check failed in the latest runs."),
    "trend": ("趋势", "Trend"),
    "failing_since": ("未通过起始", "Failing since"),
    "runs_oldest_first": ("最近各次运行（由早到晚）", "Latest runs, oldest first"),
    "dq_failed_error": ("未通过（错误级）", "Failed (error)"),
    "dq_failed_warn": ("未通过（警告级）", "Failed (warning)"),
    "dq_rows_loaded": ("入库行数", "Rows loaded"),
    "dq_rows_rejected": ("隔离行数", "Rows quarantined"),
    "dq_by_source": ("各来源入库与隔离行数", "Rows loaded and quarantined by source"),
    "dq_no_rejections": ("本次运行没有被隔离的数据行。", "No rows were quarantined in this run."),
    "dq_refused_files": (
        "被整体拒收的文件（未载入任何数据；修正后以同名重新报送）",
        "Files refused whole (nothing loaded; mend and re-send under the same name)",
    ),
    "dq_file_notes": (
        "已入库文件的说明（读取方式、一并读取的隐藏内容、未入库的分项行等）",
        "Notes on loaded files (how each was read, hidden content read as well, breakdown rows set aside...)",
    ),
    "notes": ("说明", "Notes"),
    "file_name": ("文件", "File"),
    "refused_at": ("拒收时间", "Refused at"),
    "nature": ("性质", "Nature"),
    # the labels seed's (data_provenance), which every file a user takes away uses too (pipelines/data_nature.py)
    "real": (_LABELS["provenance_real_sources"].name_zh, _LABELS["provenance_real_sources"].name_en),
    "synthetic": (_LABELS["provenance_synthetic_sources"].name_zh, _LABELS["provenance_synthetic_sources"].name_en),
    # a source's extent on the sources table ("population (provinces)"): one contract source, two tables
    "scope_provinces": ("省级", "provinces"),
    "scope_cities": ("城市", "cities"),
    # the data layer a check ran on (the asset's schema)
    "layer_raw": ("原始数据", "raw data"),
    "layer_marts": ("分析数据集", "mart"),
    # the other dbt layers a dbt data test may check (quality page)
    "layer_intermediate": ("中间模型", "intermediate model"),
    "layer_staging": ("规范化模型", "staging model"),
    # comparison page: an empty strengths / weaknesses list, in words (a bare dash read as missing data)
    # ...saying which: a bare "None" under Strengths read as a program's empty value, not as "no indicator above"
    "sw_none_strength": ("无：没有指标得分高于示范城市平均", "No indicator scores above the programme average"),
    "sw_none_weakness": ("无：没有指标得分低于示范城市平均", "No indicator scores below the programme average"),
    # downloads
    # the provincial extracts' changes when no extract has been revised: a bare "—" said nothing
    "ex_no_changes": (
        "尚无修订：各数据包均为首个版本。某一数据包再次发布时，这里列出与其上一版本相比改动的行。",
        "No revisions yet: every extract is its first version. When one is published again, the rows changed since "
        "its previous version are listed here.",
    ),
    "dl_title": ("指标数据下载", "Indicator extract"),
    "dl_scope": ("范围", "Scope"),
    "dl_format": ("格式", "Format"),
    "dl_button": ("下载", "Download"),
    # the download's address, to copy into a browser or a script (it was "↓ URL" in both languages)
    "dl_link": ("↓ 下载链接", "↓ Download link"),
    "dl_rows": ("共{n}行", "{rows}"),
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
# Acceptance-score bands of the management measures (fct_acceptance_score.acceptance_band)
ACCEPTANCE_BANDS = label_set("acceptance_band")
# fct_acceptance_score.acceptance_status (issue 17)
ACCEPTANCE_STATUS = label_set("acceptance_status")
# fct_evaluation_cycle.verdict_status (issue 17): a verdict awaiting the third-party evaluation is not final
VERDICT_STATUS = label_set("verdict_status")
SEVERITY = {"error": ("错误", "Error"), "warn": ("警告", "Warning")}
# The sources' names: the contract's (pipelines/sources.py), one definition for the loader, the alerts and the pages.
SOURCE_NAMES = {name: (source.title_zh, source.title_en or name) for name, source in _SOURCES.items()}
# The published marts the quality checks run on (raw.<source> assets are named by SOURCE_NAMES).
MART_NAMES = {
    "dim_city": ("城市名录", "City list"),
    "dim_indicator": ("指标目录", "Indicator catalogue"),
    "fct_city_indicator_year": ("城市年度指标值", "City indicator values by year"),
    "fct_city_score_year": ("城市年度得分", "City scores by year"),
    "fct_target_status": ("目标进展", "Target progress"),
}
# Great Expectations' expectation types, as the quality page says them (the type itself stays in the data).
EXPECTATION_TYPES = {
    "expect_column_values_to_not_be_null": ("不为空", "Not null"),
    "expect_column_values_to_be_in_type_list": ("数据类型正确", "Data type as declared"),
    "expect_column_values_to_be_between": ("取值在范围内", "Values within range"),
    "expect_column_values_to_be_in_set": ("取值在允许范围内", "Values among the allowed ones"),
    "expect_column_values_to_be_unique": ("取值唯一", "Values unique"),
    "expect_column_values_to_match_regex": ("格式符合规则", "Format as required"),
    "expect_column_value_lengths_to_be_between": ("长度在范围内", "Length within range"),
    "expect_column_max_to_be_between": ("最大值在范围内", "Maximum within range"),
    "expect_column_pair_values_to_be_equal": ("两列取值相等", "Two columns equal"),
    "expect_column_pair_values_a_to_be_greater_than_b": ("前一列不小于后一列", "First column not below the second"),
    "expect_compound_columns_to_be_unique": ("组合键唯一", "Combined key unique"),
    "expect_table_columns_to_match_set": ("必需列齐全", "Required columns present"),
}
# The quality checks' kinds: a check is named "<column>__<kind>" (expectations/*.json), and the quality page says
# it as "<column's header>：<kind>" ("质押金额(万元)：不为空" / "amount 10k yuan: not null"). A kind without a label
# is said by its expectation type (EXPECTATION_TYPES), and the check's own name stays on hover.
CHECK_KINDS = {
    "type": ("数据类型正确", "data type as declared"),
    "not_null": ("不为空", "not null"),
    "unique": ("取值唯一", "values unique"),
    "unit_unique": ("每个单位只有一行", "one row per unit"),
    "length": ("长度在范围内", "length within range"),
    "six_digits": ("为六位代码", "six-digit code"),
    "province_form": ("为省级代码格式", "province code form"),
    "form": ("格式符合规则", "form as required"),
    "allowed": ("取值在允许范围内", "values among the allowed ones"),
    "in_range": ("取值在范围内", "values within range"),
    # a model-level SQL condition of a dbt column_rules test (pipelines/assets/dbt.py names its failures)
    "holds": ("条件成立", "condition holds"),
    "known_region": ("行政区划代码已知", "known region code"),
    "known_plan": ("规划已知", "known plan"),
    "in_catalog": ("在指标目录中", "in the indicator catalogue"),
    "share": ("比例在0–1之间", "share within 0–1"),
    "share_indicators_within_0_1": ("比率类指标在0–1之间", "share indicators within 0–1"),
    "non_negative": ("不为负数", "not negative"),
    "positive": ("为正数", "positive"),
    "plausible": ("数值合理", "plausible"),
    "score_range": ("得分在0–100之间", "score within 0–100"),
    "not_in_future": ("不晚于今天", "not in the future"),
    "in_partition_year": ("在分区年份内", "within the partition year"),
    "is_partition": ("与分区年份一致", "equals the partition year"),
    "matches_event_date": ("与活动日期年份一致", "matches the event date"),
    "matches_filed_date": ("与立案日期年份一致", "matches the filing date"),
    "matches_grant_date": ("与授权日期年份一致", "matches the grant date"),
    "matches_month": ("与月份一致", "matches the month"),
    "matches_patent_type": ("与专利类型相符", "matches the patent type"),
    "not_before_filed_date": ("不早于立案日期", "not before the filing date"),
    "not_before_application_date": ("不早于申请日期", "not before the application date"),
    "not_before_grant_date": ("不早于授权日期", "not before the grant date"),
    "not_before_first": ("不早于首个评价年份", "not before the first year"),
    "not_before_cohort_year": ("不早于批次年份", "not before the cohort year"),
    "not_before_baseline_year": ("不早于基期年份", "not before the baseline year"),
    "after_baseline_year": ("晚于基期年份", "after the baseline year"),
    "set_when_withdrawn": ("撤销时已填写", "given when withdrawn"),
    "set_when_promoted": ("晋级时已填写", "given when promoted"),
    "set_when_closed": ("结案时已填写", "given when closed"),
    "within_enterprises_served": ("不超过服务企业数", "within the enterprises served"),
    "within_n_ranked": ("不超过参评城市数", "within the cities ranked"),
    "sum_of_types": ("等于各类型之和", "sum of the types"),
    "vs_previous_year": ("与上年相比变化合理", "change against the previous year plausible"),
    "change_vs_previous_year": ("与上年相比变化合理", "change against the previous year plausible"),
    "blocking_measures_within_bounds": ("阻断性指标在界限内", "blocking measures within bounds"),
    "warning_measures_within_bounds": ("警示性指标在界限内", "warning measures within bounds"),
    "columns_present": ("必需列齐全", "required columns present"),
    "freshness": ("数据及时更新", "data up to date"),
}
# What a check is about when it is not a contract column (a table's row count, a derived measure).
CHECK_SUBJECTS = {
    "row_count": ("行数", "row count"),
    "profile": ("分区数据概况", "partition profile"),
    "city_counts": ("城市统计", "city counts"),
    "city_grants": ("城市授权量", "city grants"),
    "amount_per_patent": ("每件专利质押金额", "amount per patent"),
    "amount_per_registration": ("每笔登记质押金额", "amount per registration"),
}
# Alert rules by rule id (the alerts page and the profile's alert history). marts.fct_alerts.alert_type is the
# rule id, except target_behind which the mirror calls behind_target (the profile's original name for it).
# quality.check_results: which engine checked (gx, dbt), a dbt test's kind (its rule), a check's trend across runs
CHECK_ENGINES = label_set("check_engine")
DBT_TESTS = label_set("dbt_test")
CHECK_TRENDS = label_set("check_trend")
ALERT_RULES = label_set("alert_rule")  # the labels seed, as the alert messages name them
ALERT_TYPES = {"behind_target": ALERT_RULES["target_behind"], **ALERT_RULES}
ALERT_STATES = {"firing": ("预警中", "Firing"), "resolved": ("已解除", "Resolved")}
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


# The navigation bar's labels where the page's name is too long for one line of twelve links at 1366 px (English);
# the page keeps its full name as its title and as the link's tooltip.
NAV_SHORT: dict[str, tuple[str, str]] = {
    # the page is 整改/退出风险名单; in the bar "风险名单", never "预警" (the alerts page's word)
    "nav_watchlist": ("风险名单", "Watchlist"),
    "nav_compare": ("城市对比", "Compare"),
    "nav_profile": ("城市画像", "Profile"),
    "nav_targets": ("目标进展", "Targets"),
    "nav_simulator": ("情景模拟", "Simulator"),
}


def nav_label(key: str, lang: str | None) -> str:
    """A page's label in the navigation bar: its short form when it has one, else its name (``t``)."""
    pair = NAV_SHORT.get(key)
    if pair is None:
        return t(key, lang)
    return pair[1] if norm_lang(lang) == "en" else pair[0]


def label(mapping: dict[str, tuple[str, str]], code: str | None, lang: str | None) -> str:
    if code is None:
        return ""
    pair = mapping.get(code)
    if pair is None:
        return str(code)
    return pair[1] if norm_lang(lang) == "en" else pair[0]


def alert_status_label(status: str | None, lang: str | None) -> str:
    """fct_alerts.status is whatever the rule reports: a target status, a stage, a reporting status (all in the
    labels seed) or, for rules without one, the alert's state (firing / resolved)."""
    if status is None:
        return ""
    seeded = load_labels().get(status)
    if seeded is not None:
        return seeded.text("en" if norm_lang(lang) == "en" else "zh")
    return label(ALERT_STATES, status, lang)


def name_col(lang: str | None) -> str:
    """Column of dim_city holding the unit's name in this language."""
    return "unit_name_en" if norm_lang(lang) == "en" else "unit_name"


# Text of the programme-cycle pages (issue 17), kept in its own module.
from .i18n_programme import PROGRAMME_TEXT  # noqa: E402

TEXT.update(PROGRAMME_TEXT)
