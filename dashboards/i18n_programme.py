"""UI text of the programme-cycle pages (programmes & cohorts, provinces, policy simulator) and the ambition
section, 简体中文 and English. Merged into ``dashboards.i18n.TEXT`` so ``t()`` serves them like every label."""

from __future__ import annotations

from pipelines.labels import label_set, third_party_status_labels

# fct_third_party_evaluation.status labels: the labels seed's third_party_status list
THIRD_PARTY_STATUS: dict[str, tuple[str, str]] = third_party_status_labels()
# the cohort codes that are no date (programme_calendar: 2015a, 2015b, the two 2015 demonstration-city notices) in
# words; a cohort such as 2022-08 reads as it is
COHORTS: dict[str, tuple[str, str]] = label_set("programme_cohort")

PROGRAMME_TEXT: dict[str, tuple[str, str]] = {
    "nav_programmes": ("项目与批次", "Programmes"),
    "nav_provinces": ("省级汇总", "Provinces"),
    "nav_simulator": ("情景模拟", "Policy simulator"),
    # programmes page
    "pg_title": (
        "示范城市与强市建设试点示范城市：批次、周期与第三方评估",
        "Demonstration and strong-city programmes: cohorts, cycles and third-party evaluation",
    ),
    "pg_partial_roster": (
        "名单不完整：该批次公布{announced}个，公开来源仅能确认其中{named}个；其余未列出，平台不作推测。",
        "The roster is partial: the notice designated {announced} units, public sources name {named} of them; "
        "the others are not listed and never guessed.",
    ),
    "pg_programmes": ("项目与批次", "Programmes and cohorts"),
    "pg_memberships": ("城市名单（含入选、退出、晋级日期）", "Roster (joining, withdrawal and promotion dates)"),
    "pg_third_party": ("第三方评估状态", "Third-party evaluation status"),
    "pg_ambition": ("建设目标雄心评估", "Target ambition"),
    "pg_download_ambition": ("下载目标雄心评估", "Download target ambition"),
    "programme": ("项目", "Programme"),
    "cohort": ("批次", "Cohort"),
    "period": ("期限", "Period"),
    "pg_cycle": ("评估周期", "Cycle"),
    "calendar": ("周期安排", "Calendar"),
    "units_announced": ("公布数量", "Designated"),
    "units_named": ("已确认", "Named"),
    # the evaluator's findings column (its header was the section's title, "第三方评估状态", over the findings text)
    "tp_findings": ("评估意见", "Findings"),
    # the 2012–2016 demonstration-city notices did not state a number (dim_programme.units_announced is null)
    "pg_not_announced": ("通知未列数量", "Not stated"),
    "units_announced_tip": (
        "批次通知公布的入选城市数量；通知未列明数量的显示“通知未列数量”",
        "Number of units the cohort's notice designated; “Not stated” where the notice gives no number",
    ),
    "joined_on": ("入选日期", "Joined"),
    "left_on": ("退出/晋级日期", "Left / promoted"),
    "exit_reason": ("变动", "Event"),
    "first_evaluated_year": ("起评年份", "Evaluated from"),
    "last_evaluated_year": ("末评年份", "Evaluated to"),
    "pg_source": ("来源", "Source"),
    # the roster's source notes: "confidence: high | batch: 2024-01 (2nd)" said in words (pages/programmes.source_text)
    "src_confidence": ("可信度：{value}", "Confidence: {value}"),
    "src_batch": ("批次：{value}", "Batch: {value}"),
    "src_batch_unclear": ("不明", "unclear"),
    "src_batch_nth": ("第{n}批", "batch {n}"),
    "src_round": ("{years}轮次", "{years} round"),
    "src_or": ("或", "or"),
    "src_no_url": ("（索引中无链接）", "(no URL in the index)"),
    "pg_status": ("状态", "Status"),
    "evaluator": ("评估机构", "Evaluator"),
    "report_version": ("版本", "Version"),
    "third_party_score": ("第三方评估得分", "Third-party score"),
    "tp_pending_count": THIRD_PARTY_STATUS["pending"],
    "tp_received_count": THIRD_PARTY_STATUS["received"],
    # what a third-party card counts and over which cycles: "189 第三方评估待定" read as 189 cities, this year
    "tp_card_scope": (
        "城市·评估周期数（每城市每个评估周期一条），{cycles}各周期合计，涉及{cities}个城市",
        "city-cycles (one per city and evaluation cycle), all cycles {cycles}, {cities} cities",
    ),
    "tp_cycles_span": ("{first}至{last}", "{first} to {last}"),
    # the acceptance bands the scores below are read against (rules seed ACC.remove_below, ACC.cultivation_from)
    "pg_acceptance_bands": ("验收评分档（评价规则{version}）：", "Acceptance score bands (rules {version}): "),
    "pg_ban_flag_count": (
        "在不得再申报期间再次入选的成员资格：{n}条",
        "Memberships joined while barred from applying: {n}",
    ),
    "pg_ban_until": ("不得再申报至{until}", "barred until {until}"),
    "promoted": ("晋级为示范城市", "promoted to demonstration"),
    "pg_withdrawn": ("撤销", "withdrawn"),
    "open_ended": ("长期", "open-ended"),
    # ambition
    "ambition_class": ("雄心等级", "Ambition"),
    "required_growth": ("所需年增长率", "Required growth / yr"),
    "trend_growth": ("规划前自身趋势", "Own pre-plan trend"),
    "peer_median_growth": ("对标城市实际增长（中位数）", "Peers' real growth (median)"),
    "peer_p90_growth": ("对标城市实际增长（第90百分位）", "Peers' real growth (90th pct)"),
    # the two peer columns under one group header (the full names above kept the grid wider than 1366 px)
    "peer_growth": ("对标城市实际增长", "Peers' real growth"),
    "peer_median": ("中位数", "median"),
    "peer_p90": ("第90百分位", "90th pct"),
    "peer_scope": ("对标范围", "Peer scope"),
    "n_peers": ("对标城市数", "Peers"),
    "ambition_weight": ("验收评分权重", "Weight in acceptance score"),
    "pg_target": ("目标", "Target"),
    "pg_plan": ("方案", "Plan"),
    # a city without plan targets to judge: said in words (the section showed a bare "–")
    "ambition_none": (
        "该城市没有纳入雄心评估的建设目标。",
        "This city has no plan targets in the ambition assessment.",
    ),
    "ambition_hint": (
        "所需增长不高于自身趋势和同省同组城市实际增长的目标视为缺乏雄心，其达成在验收评分中权重减半。",
        "A target that asks for no more growth than the city's own trend and its peers' real growth is "
        "unambitious; its achievement weighs half in the acceptance score.",
    ),
    # provinces page
    "pv_title": (
        "各省示范/试点城市评价汇总（强省建设考核依据）",
        "City results rolled up per province (input to the province's evaluation)",
    ),
    "pv_level": ("汇总口径", "Roll-up"),
    "pv_level_year": ("年度", "Year"),
    "pv_level_cycle": ("周期", "Cycle"),
    "pv_period": ("年度/周期", "Year / cycle"),
    "n_cities": ("城市数", "Cities"),
    "mean_index": ("平均综合指数", "Mean index"),
    "sd_index": ("综合指数标准差", "Index spread (SD)"),
    "range_index": ("最低–最高", "Min–max"),
    "mean_acceptance": ("平均验收得分", "Mean acceptance score"),
    # header tooltips: a blank cell in these columns is expected, and officials asked why (fct_province_rollup)
    "sd_index_tip": (
        "省内城市综合指数的样本标准差。省内只有一个城市时无法计算，显示为空。",
        "Sample standard deviation of the province's city composite indices. Blank when the province has only "
        "one city: a spread needs at least two.",
    ),
    "mean_acceptance_tip": (
        "验收得分按评价周期计算：按年度汇总时始终为空；按周期汇总时，仅当省内有城市的第三方评估已提交、"
        "得出合成验收得分后才显示，第三方评估待定时为空。",
        "Acceptance scores are per evaluation cycle: always blank in the year roll-up; in the cycle roll-up, "
        "blank until a city of the province has its third-party evaluation received and a combined score.",
    ),
    # said under the grid when the whole column is blank: the tooltip alone went unread, and a column of "–" looked
    # like missing data (dash12)
    "pv_acceptance_blank_year": (
        "平均验收得分一列为空：验收得分按评价周期计算，按年度汇总时没有。请在上方选择“按评价周期”查看。",
        "The mean acceptance score column is blank: acceptance scores are per evaluation cycle, so the year roll-up "
        "has none. Choose the cycle roll-up above to see them.",
    ),
    "pv_acceptance_blank_cycle": (
        "平均验收得分一列为空：本周期尚无城市得出合成验收得分（周期未结束，或第三方评估尚未提交）。",
        "The mean acceptance score column is blank: no city of this cycle has a combined acceptance score yet "
        "(the cycle has not ended, or its third-party evaluations are still to come).",
    ),
    # the programme calendar notes name rule parameters by id (programme_calendar seed); said in words here
    "pg_rule_cycle_anchor_year": (
        "评价规则设定的首个评估周期起始年（{value}年）",
        "{value}, the first evaluation-cycle year set in the evaluation rules",
    ),
    "share_key_met": ("重点目标达成率", "Key targets met"),
    "n_flagged": ("预警城市数", "Cities flagged"),
    "flagged_units": ("预警城市", "Flagged cities"),
    "stages_mix": ("阶段分布", "Stages"),
    "pv_empty": ("该期间无评价结果。", "No evaluation results for this period."),
    # the bar colour is explained in the title: the chart has one trace, so no legend says it. The colour by the
    # name a reader gives what is drawn (Okabe-Ito vermillion reads orange: "红色" / "red" matched no bar), and the
    # flagged cities by the grid's word for them (预警城市)
    "pv_chart_title": (
        "各省平均综合指数（误差线为标准差；橙色斜纹：有预警城市）",
        "Mean composite index per province (error bars: SD; orange hatching: with flagged cities)",
    ),
    # the dotted line across the bars (it was not named anywhere)
    "pv_chart_average": ("示范城市均值 = 100", "programme average = 100"),
    # simulator
    "sim_title": (
        "调整权重、阈值和规则参数，查看排名、阶段、周期结论和验收档次的变化（不发布为评价结论）",
        "Change weights, thresholds and rule parameters; see which ranks, stages, cycle verdicts and acceptance "
        "bands would change (never published as verdicts)",
    ),
    "sim_disclaimer": (
        "模拟情景，不是正式评价结论，不得作为评价结果发布。",
        "Simulation scenario — not an evaluation verdict; never to be published as one.",
    ),
    "sim_denied": (
        "情景模拟仅向国家知识产权局用户开放。",
        "The policy simulator is open to national-office users only.",
    ),
    "sim_name": ("情景名称", "Scenario name"),
    "sim_weights": ("一级指标权重（各年度同样适用，自动归一）", "Pillar weights (applied to every year, renormalised)"),
    "sim_rules": ("评价规则参数", "Rule parameters"),
    "sim_run": ("运行情景", "Run scenario"),
    "sim_save": ("保存情景", "Save scenario"),
    "sim_saved": ("已保存：{name}", "Saved: {name}"),
    "sim_not_computed": (
        "未保存：结果与服务器计算的不一致，请重新运行情景后再保存。",
        "Not saved: the results are not the ones the server computed; run the scenario again, then save.",
    ),
    "sim_open": ("打开", "Open"),
    "sim_compare": ("对比", "Compare"),
    "sim_saved_list": ("已保存的情景", "Saved scenarios"),
    "sim_compare_with": ("对比情景", "Compare with"),
    "sim_export_csv": ("导出CSV", "Export CSV"),
    "sim_export_xlsx": ("导出Excel", "Export Excel"),
    "sim_running": ("正在用评价模型计算情景…", "Running the evaluation models on the scenario…"),
    "sim_no_changes": ("该情景下排名、阶段、结论均无变化。", "Nothing changes under this scenario."),
    "sim_no_params": ("请先修改至少一个参数。", "Change at least one parameter first."),
    "sim_changes": ("变化清单", "Changes"),
    "sim_n_rank": ("排名变化", "Rank changes"),
    "sim_n_stage": ("年度阶段变化", "Stage changes"),
    "sim_n_verdict": ("周期结论变化", "Verdict changes"),
    "sim_n_band": ("验收档次变化", "Acceptance-band changes"),
    "sim_kind": ("变化类型", "Change"),
    "sim_base": ("现行结果", "Published"),
    "sim_scenario": ("情景结果", "Scenario"),
    "sim_robustness": ("稳健性", "Robustness"),
    "sim_period": ("年度/周期", "Year / cycle"),
    "sim_error": ("情景无法计算：{error}", "The scenario could not be computed: {error}"),
    "sim_run_first": ("请先运行情景。", "Run a scenario first."),
    "sim_busy": (
        "另一个情景正在计算（同一时间只计算一个），请待其完成后再运行。",
        "Another scenario is being computed (one at a time); run this one when it has finished.",
    ),
    "sim_value_a": ("情景A", "Scenario A"),
    "sim_value_b": ("情景B", "Scenario B"),
    "sim_param": ("所属规则：{rule}", "Rule: {rule}"),
    "sim_on": ("启用", "On"),
    "sim_off": ("停用", "Off"),
    # capitalised in English as the values beside them ("Exemplary", "Normal"): "cycle verdict" read as a fragment
    "kind_rank": ("排名", "Rank"),
    "kind_stage": ("年度阶段", "Stage"),
    "kind_verdict": ("周期结论", "Cycle verdict"),
    "kind_acceptance_band": ("验收档次", "Acceptance band"),
    # what a results card counts (sim_review_zh_1366: "40 年度阶段变化" — 40 cities? this year?), and what the
    # scenario changed: the results stood under the form with no word of which parameters made them
    "sim_scope_years": (
        "城市·年度数（每城市每年度一条，各年度合计），与现行发布结果相比",
        "city-years (one per city and year, all years), against the published results",
    ),
    "sim_scope_cycles": (
        "城市·评估周期数（每城市每个评估周期一条，各周期合计），与现行发布结果相比",
        "city-cycles (one per city and evaluation cycle, all cycles), against the published results",
    ),
    "sim_changed_params": ("本情景改动的参数（现行 → 情景）：", "What this scenario changes (published → scenario): "),
    "sim_pillar_weight": ("一级指标权重：{pillar}", "Pillar weight: {pillar}"),
}

AMBITION_CLASSES: dict[str, tuple[str, str]] = {
    "unambitious": ("缺乏雄心", "Unambitious"),
    "stretch": ("具有挑战性", "Stretch"),
    "unrealistic": ("不切实际", "Unrealistic"),
    "not_assessable": ("无法评估", "Not assessable"),
}
PEER_SCOPES: dict[str, tuple[str, str]] = {
    "province_group": ("同省同组", "same province and group"),
    "national_group": ("全国同组", "same group nationally"),
}


_STAGES = label_set("stage")
# The evaluation rules by code (marts.evaluation_rules.rule_code): the simulator names the rule a parameter belongs
# to in words, its id ("R2.regress_points") on hover.
RULE_NAMES = {
    "GEN": ("通用规则", "General"),
    "W1": ("关注：末位分组", "Watch: bottom group"),
    "W2": ("关注：关键目标滞后", "Watch: key targets lagging"),
    "R1": ("整改：连续关注", "Rectification: years on watch"),
    "R2": ("整改：综合指数下降", "Rectification: index decline"),
    # the stages the two rules set, by the labels seed's words (one definition)
    "X1": _STAGES["exit_candidate"],
    "EX1": _STAGES["exemplary"],
    "TS": ("目标进展状态", "Target status"),
    "AMB": ("目标雄心", "Target ambition"),
    "RPT": ("数据报送", "Reporting"),
    "ACC": ("验收评分", "Acceptance score"),
    "TP": ("第三方评估", "Third-party evaluation"),
}
