{{ config(materialized='table') }}
{#- spans of years in the evidence ("W1 ... 2022–2024") with the range dash every text uses (dbt_project.yml) -#}
{%- set dash = var('range_dash') %}
{#- W2's evidence per year it fired: the lagging key targets of the evaluable ones, their share and the year's
    threshold (W2.lagging_share of the rules in force that year), so the clause names figures and threshold -#}
{%- set w2_item -%}
case when y.fired_w2 then concat_ws('', cast(y.year as string), ' ', cast(y.targets_lagging as string), '/',
  cast(y.targets_evaluable as string), ' = ', {{ decimal_text('y.targets_lagging_share', 2) }}, ' > ',
  {{ decimal_text('yp.w2_lagging_share', 2) }}) end
{%- endset %}
{#- whether the verdict's flagging condition held in GEN.robust_share of the uncertainty runs (null: robustness) -#}
{#- not reporting is a fact of the ledger and review is the absence of robust evidence, with or without uncertainty
    runs, as fct_evaluation_year says them (a cycle counted as exit read "not assessed" beside years read robust) -#}
{%- set is_robust -%}
  case v.verdict
    when 'review' then false
    when 'not_reported' then true
    else case when v.has_uncertainty then
      case v.verdict
        when 'exit_candidate' then v.x1_robust_at_end
        when 'rectification' then v.rect_robust_any
        when 'watch' then v.watch_robust_any
        when 'exemplary' then v.ex1_robust_at_end
      end
    end
  end
{%- endset %}
-- Verdict per programme unit and three-year cycle, from its evaluated years. Verdict precedence:
-- withdrawn > exit_candidate > rectification > review > watch > exemplary > normal. A city that withdrew during the
-- cycle keeps the evidence of the years it was evaluated, under the verdict "withdrawn".
-- Cycles (first, last and baseline year) are the unit's own, from its programme's calendar
-- (int_programme_unit_years via int_evaluation_signals_year). is_complete: the data reach the cycle's last year
-- and no other cycle of the unit governs a year of its span (macro programme_unit_cycles): a cycle
-- still running, or cut short at its end or its start because another calendar governed part of it (南京's
-- demonstration-city 2023-2025 holds only 2025 after the strong-city 2022-2024), is never judged as complete.
-- Third-party evaluation ("每三年期开展一轮第三方评估", issue 17): the evaluator's current upload for exactly this
-- cycle (marts.fct_third_party_evaluation) gives third_party_status 'received' and its score; without one the
-- status is 'pending' and, when the rules in force in the cycle's last evaluated year say so
-- (TP.pending_blocks_verdict = 1 and TP.third_party_weight > 0), verdict_status is 'third_party_pending': the
-- verdict is the indicator-based one to date and must be shown as awaiting the third-party evaluation, never as
-- a final verdict. withdrawn and not_reported are procedural verdicts (title withdrawn; not reporting counts as
-- exit under the management measures) that no evaluator's score changes: they stay final.
with params as (
  select * from {{ ref('int_evaluation_params_year') }}
),

third_party as (
  select unit_code, cycle_first_year, cycle_last_year, third_party_score, evaluator, report_version
  from {{ ref('fct_third_party_evaluation') }}
  where third_party_score is not null
),

years as (
  select * from {{ ref('fct_evaluation_year') }}
  where cycle_start is not null
),

chain as (
  select * from {{ ref('int_evaluation_cycle_chain') }}
),

-- The catalog each year was scored under (a year's catalog is every unit's): the cycle's change compares the
-- published index of its baseline year with its last year's, and when the two were scored under different
-- catalogs (weights changed mid-cycle) the change is not like-for-like. The published figures stay the ones
-- compared -- each is the figure the city read and was ranked on, and re-scoring a published baseline would
-- move a figure no one can contest -- but the cycle says so, with the like-for-like change beside it (the
-- baseline re-weighted by the last year's catalog, which R2 already requires before it sanctions a fall).
catalog_of_year as (
  select year, max(catalog_version) as catalog_version
  from {{ ref('fct_evaluation_year') }}
  group by year
),

-- the calendar's cycles and whether another cycle took part of one (macro programme_unit_cycles, the definition
-- of int_programme_unit_cycles, read here from the calendar the evaluation step and the simulator both have)
calendar_cycles as (
  {{ programme_unit_cycles(ref('int_programme_unit_years')) }}
),

bounds as (
  select unit_code, cycle_start, max(year) as last_year, min(year) as first_year
  from years
  group by unit_code, cycle_start
),

-- A cycle is cut short when a later year of the unit's calendar already belongs to another cycle (南通 320600: pilot
-- 2022-2024, promoted in 2024): it is judged in its last evaluated year, as releases.judged_year_of_cycle says.
-- Otherwise a cycle whose last year has no data yet is still running: it has no verdict year, and what it shows
-- is the evidence to date, never a verdict (verdict_status cycle_running).
later_cycle as (
  select b.unit_code, b.cycle_start, cast(count(y.year) as integer) as later_years_of_another_cycle
  from bounds as b
  left join years as y
    on y.unit_code = b.unit_code and y.year > b.last_year and y.cycle_start <> b.cycle_start
  group by b.unit_code, b.cycle_start
),

per_cycle as (
  select
    y.unit_code,
    max(y.unit_name) as unit_name,
    y.cycle_start,
    max(y.cycle_end) as cycle_end,
    max(y.cycle) as cycle,
    max(y.cycle_baseline_year) as cycle_baseline_year,
    max(y.withdrawn_year) as withdrawn_year,
    cast(count(*) as integer) as years_evaluated,
    min(b.first_year) as first_year,
    min(b.last_year) as last_year,
    max(case when y.year = b.last_year then y.baseline_index end) as baseline_index,
    max(case when y.year = b.last_year then y.composite_index end) as end_index,
    max(case when y.year = b.last_year then y.index_change_cycle end) as index_change,
    max(case when y.year = b.last_year then y.catalog_version end) as end_catalog_version,
    max(case when y.year = b.last_year then y.index_change_same_catalog end) as index_change_same_catalog,
    -- the calibrated R2 threshold of the year R2 fired (only a cycle's end year can): the evidence names it, as the
    -- year's rules_fired does, so a city can check its fall against the figure that judged it
    max(case when y.fired_r2 then y.r2_threshold_points end) as r2_threshold_points,
    max(case when y.year = b.last_year then y.rank end) as end_rank,
    -- 并列: the end rank is shared with another ranked unit that year (fct_city_score_year.rank_is_shared)
    max(case when y.year = b.last_year then cast(y.rank_is_shared as integer) end) = 1 as end_rank_is_shared,
    max(case when y.year = b.last_year then y.n_ranked end) as end_n_ranked,
    max(case when y.year = b.last_year then y.performance_group end) as end_group,
    max(case when y.year = b.last_year then y.median_rank end) as end_median_rank,
    max(case when y.year = b.last_year then y.p05_rank end) as end_p05_rank,
    max(case when y.year = b.last_year then y.p95_rank end) as end_p95_rank,
    max(case when y.year = b.last_year then y.share_bottom end) as end_share_bottom,
    max(case when y.year = b.last_year and y.stage = 'exit_candidate' then 1 else 0 end) = 1 as x1_at_end,
    cast(sum(case when y.stage = 'review' then 1 else 0 end) as integer) as review_years,
    cast(sum(case when y.stage = 'not_reported' then 1 else 0 end) as integer) as not_reported_years,
    max(case when y.year = b.last_year and y.exit_robust then 1 else 0 end) = 1 as x1_robust_at_end,
    max(case when y.year = b.last_year and y.fired_ex1 then 1 else 0 end) = 1 as ex1_at_end,
    max(case when y.year = b.last_year and y.exemplary_robust then 1 else 0 end) = 1 as ex1_robust_at_end,
    cast(sum(case when y.fired_w1 or y.fired_w2 then 1 else 0 end) as integer) as watch_years,
    cast(sum(case when y.fired_r1 or y.fired_r2 then 1 else 0 end) as integer) as rectification_years,
    sum(case when y.fired_w1 then 1 else 0 end) as w1_years,
    min(case when y.fired_w1 then y.year end) as w1_first, max(case when y.fired_w1 then y.year end) as w1_last,
    sum(case when y.fired_w2 then 1 else 0 end) as w2_years,
    {{ dbt.listagg(w2_item, "', '", "order by y.year") }} as w2_detail,
    min(case when y.fired_w2 then y.year end) as w2_first, max(case when y.fired_w2 then y.year end) as w2_last,
    -- the thresholds each clause of the evidence names, from the rules in force in the years the rule fired
    max(case when y.fired_r1 then yp.r1_watch_years end) as r1_watch_years,
    max(case when y.fired_r1 then y.rules_version end) as r1_rules_version,
    min(case when y.stage = 'review' then y.year end) as review_first,
    max(case when y.stage = 'review' then y.year end) as review_last,
    max(case when y.stage = 'review' then yp.robust_share end) as review_robust_share,
    min(case when y.stage = 'not_reported' then y.year end) as not_reported_first,
    max(case when y.stage = 'not_reported' then y.year end) as not_reported_last,
    max(case when y.stage = 'not_reported' then yp.grace_months end) as grace_months,
    sum(case when y.fired_r1 then 1 else 0 end) as r1_years,
    min(case when y.fired_r1 then y.year end) as r1_first, max(case when y.fired_r1 then y.year end) as r1_last,
    max(case when y.fired_r2 then 1 else 0 end) = 1 as r2_fired,
    max(case when y.rectification_robust then 1 else 0 end) = 1 as rect_robust_any,
    max(case when y.watch_robust then 1 else 0 end) = 1 as watch_robust_any,
    max(case when y.rectification_robust is not null then 1 else 0 end) = 1 as has_uncertainty,
    -- each year's versions, never a max: a cycle can span a catalog or rules change (e.g. 2020-2022)
    {{ dbt.listagg("concat_ws('', cast(y.year as string), ':', y.catalog_version)", "', '", "order by y.year") }}
      as catalog_versions,
    {{ dbt.listagg("concat_ws('', cast(y.year as string), ':', y.rules_version)", "', '", "order by y.year") }}
      as rules_versions,
    -- each year's performance group (the band of the published index that year): a unit can change group inside
    -- a cycle, and each year's stage is judged in that year's group, the cycle's end verdict in the last year's
    {{ dbt.listagg("concat_ws('', cast(y.year as string), ':', coalesce(y.performance_group, '-'))", "', '",
                   "order by y.year") }}
      as performance_groups
  from years as y
  inner join bounds as b on b.unit_code = y.unit_code and b.cycle_start = y.cycle_start
  left join params as yp on yp.evaluation_year = y.year
  group by y.unit_code, y.cycle_start
),

verdicts as (
  select
    c.*,
    ch.prev_rect_or_worse,
    ch.rect_or_worse,
    c.last_year >= c.cycle_end and not coalesce(cc.is_cut_short, false) as is_complete,
    -- cut short at its start or its end (macro programme_unit_cycles, the one definition)
    coalesce(cc.is_cut_short, false) or lc.later_years_of_another_cycle > 0 as is_cut_short,
    -- its data reached its last year, or a later year already belongs to another cycle: nothing more will come
    c.last_year >= c.cycle_end or lc.later_years_of_another_cycle > 0 as is_over,
    case
      when c.withdrawn_year is not null and c.withdrawn_year <= c.cycle_end then 'withdrawn'
      -- not reporting within the grace period counts as exit (management measures)
      when c.not_reported_years > 0 then 'not_reported'
      -- X1 is judged in the cycle's last evaluated year, so the verdict is the last year row's X1 (§10)
      when c.x1_at_end then 'exit_candidate'
      when ch.rect_signal then 'rectification'
      -- a sanction rule fired but its evidence is not robust: the office reviews the case (人工复核)
      when c.review_years > 0 then 'review'
      when c.watch_years > 0 then 'watch'
      when c.ex1_at_end then 'exemplary'
      else 'normal'
    end as verdict
  from per_cycle as c
  inner join chain as ch on ch.unit_code = c.unit_code and ch.cycle_start = c.cycle_start
  left join calendar_cycles as cc
    on cc.unit_code = c.unit_code and cc.cycle_start = c.cycle_start and cc.cycle_end = c.cycle_end
  inner join later_cycle as lc on lc.unit_code = c.unit_code and lc.cycle_start = c.cycle_start
),

judged as (
  select
    v.*,
    -- the year the verdict is given in: the last year of a complete or cut-short cycle, or the year a procedural
    -- verdict (withdrawn, not reporting = exit) was given; null while the cycle is still running
    -- (a cycle cut short only at its start, 南京's 2023-2025, is judged when its last year's data are in)
    case when v.is_over or v.verdict in ('withdrawn', 'not_reported') then v.last_year end as judged_year
  from verdicts as v
),

with_third_party as (
  select
    v.*,
    case when tp.unit_code is not null then 'received' else 'pending' end as third_party_status,
    tp.third_party_score,
    tp.evaluator as third_party_evaluator,
    tp.report_version as third_party_report_version,
    p.tp_third_party_weight as third_party_weight,
    p.ex1_improve_min_points,
    p.x1_improve_min_points,
    p.gen_change_like_for_like,
    -- the rules version the cycle verdict itself is judged by (X1/EX1 at the end, the third-party weight and
    -- whether a missing report holds the verdict): the one in force in the cycle's last evaluated year
    p.rules_version as verdict_rules_version,
    case
      when v.verdict in ('withdrawn', 'not_reported') then 'final'
      -- a cycle still running has no verdict yet, whatever the evaluator has uploaded
      when v.judged_year is null then 'cycle_running'
      when tp.unit_code is not null then 'final'
      when p.tp_third_party_weight is null or p.tp_third_party_weight <= 0 then 'final'
      when p.tp_pending_blocks_verdict = 1 then 'third_party_pending'
      else 'indicator_only'
    end as verdict_status
  from judged as v
  left join params as p on p.evaluation_year = v.last_year
  left join third_party as tp
    on tp.unit_code = v.unit_code and tp.cycle_first_year = v.cycle_start and tp.cycle_last_year = v.cycle_end
)

select
  v.unit_code,
  v.unit_name,
  v.cycle,
  v.cycle_start,
  v.cycle_end,
  v.cycle_baseline_year as baseline_year,
  -- joined inside the cycle: its comparison starts after the cycle's baseline year (int_programme_unit_years, the
  -- one definition; read from the baseline so the simulator's and the harness's calendars need no new column)
  case when v.cycle_baseline_year >= v.cycle_start then v.cycle_baseline_year + 1 end as joined_in_year,
  v.verdict,
  lag(v.verdict) over (partition by v.unit_code order by v.cycle_start nulls last) as previous_verdict,
  concat_ws('; ',
    -- a unit that joined inside the cycle: said first, with the baseline its changes are read from and the
    -- third-party evaluation every unit of the cycle is due at its end (before: nothing said, and the cycle's
    -- baseline year, before it joined, judged it)
    case when v.cycle_baseline_year >= v.cycle_start then concat_ws('',
      'joined in ', cast(v.cycle_baseline_year + 1 as string), ', inside the cycle: index change since ',
      cast(v.cycle_baseline_year as string), ' (GEN.joined_entry_baseline), third-party evaluation due at the end of ',
      cast(v.cycle_end as string)) end,
    -- a change across a catalogue change that reads otherwise like-for-like (the baseline year re-weighted by the last
    -- year's catalogue): both figures and what the office's rule GEN.change_like_for_like made of them, so a verdict
    -- that did not follow the published change (an exit candidacy or an exemplary rise only the weight switch
    -- produced) says why, and one that did says the like-for-like figure it also held on
    case when bc.catalog_version <> v.end_catalog_version and v.index_change_same_catalog is not null
              and v.index_change is not null
              -- both are differences of published figures (exact decimals), so equal as shown is equal here
              and v.index_change_same_catalog <> v.index_change
      then concat_ws('', 'index change ', cast(v.cycle_baseline_year as string), '{{ dash }}',
        cast(v.last_year as string), ' ', case when v.index_change > 0 then '+' else '' end,
        {{ published_text('v.index_change') }}, ' across catalogues ', bc.catalog_version, ' and ',
        v.end_catalog_version, ', like-for-like ', case when v.index_change_same_catalog > 0 then '+' else '' end,
        {{ published_text('v.index_change_same_catalog') }},
        case when v.gen_change_like_for_like = 1
          then ': X1, EX1 and R2 count a change only where both agree (GEN.change_like_for_like)'
          else concat_ws('', ': R2 counts a fall only where both agree, X1 and EX1 the published change',
            ' (GEN.change_like_for_like = 0)')
        end) end,
    case when v.verdict = 'withdrawn' then concat_ws('', 'withdrawn in ', cast(v.withdrawn_year as string)) end,
    -- every clause names its figures, its threshold and its year(s) at the published precision, and the rules
    -- version the threshold is read from (X1/EX1/R2: the cycle's last evaluated year, as the verdict is judged)
    case when v.verdict = 'exit_candidate' then concat_ws('', 'X1 previous cycle in rectification, index change ',
      cast(v.cycle_baseline_year as string), '{{ dash }}', cast(v.last_year as string), ' ',
      {{ published_text('v.index_change') }}, ', not above ',
      {{ published_text('v.x1_improve_min_points') }}, ' (rules ', v.verdict_rules_version, ')') end,
    case when v.r1_years > 0 then concat_ws('', 'R1 in ', cast(v.r1_first as string),
      case when v.r1_last > v.r1_first then concat_ws('', '{{ dash }}', cast(v.r1_last as string))
      else '' end, ' (',
      cast(v.r1_watch_years as string), ' consecutive watch years, rules ', v.r1_rules_version, ')') end,
    case when v.r2_fired then concat_ws('', 'R2 index change over cycle ',
      {{ published_text('v.index_change') }}, ', threshold -', {{ published_text('v.r2_threshold_points') }},
      ' (', cast(v.cycle_baseline_year as string), '{{ dash }}', cast(v.last_year as string), ', rules ',
      v.verdict_rules_version, ')') end,
    case when v.not_reported_years > 0 then concat_ws('', 'not reported within the grace period of ',
      cast(v.grace_months as string), ' months in ', cast(v.not_reported_years as string), ' year(s) ',
      cast(v.not_reported_first as string),
      case when v.not_reported_last > v.not_reported_first
        then concat_ws('', '{{ dash }}', cast(v.not_reported_last as string)) else '' end,
      ' (counts as exit)') end,
    case when v.review_years > 0 then concat_ws('', 'review: sanction evidence not robust in ',
      cast(v.review_years as string), ' year(s) ', cast(v.review_first as string),
      case when v.review_last > v.review_first then concat_ws('', '{{ dash }}', cast(v.review_last as string))
      else '' end,
      ' (robust share below ', {{ decimal_text('v.review_robust_share', 2) }}, ')') end,
    case when v.w1_years > 0 then concat_ws('', 'W1 bottom group in ', cast(v.w1_years as string), ' year(s) ',
      cast(v.w1_first as string),
      case when v.w1_last > v.w1_first then concat_ws('', '{{ dash }}', cast(v.w1_last as string))
      else '' end) end,
    case when v.w2_years > 0 then concat_ws('', 'W2 targets lagging in ', cast(v.w2_years as string), ' year(s) ',
      cast(v.w2_first as string),
      case when v.w2_last > v.w2_first then concat_ws('', '{{ dash }}', cast(v.w2_last as string))
      else '' end, ' (', v.w2_detail, ')') end,
    case when v.verdict = 'exemplary' then concat_ws('', 'EX1 ', v.end_group, ' in ', cast(v.last_year as string),
      ', index change ', cast(v.cycle_baseline_year as string), '{{ dash }}', cast(v.last_year as string), ' +',
      {{ published_text('v.index_change') }}, ', above ',
      {{ published_text('v.ex1_improve_min_points') }}, ' (rules ', v.verdict_rules_version, ')') end,
    case when v.third_party_status = 'received' then concat_ws('', 'third-party score ',
      -- as the dossier, the profile and the programmes grid show it beside the acceptance score (macro score_text,
      -- pipelines.evaluation.rules.acceptance_score_text: cut at two decimals, exact decimals): rounded to one
      -- decimal here, 59.96 read 60.0 in the evidence and 59.96 in the acceptance lines
      {{ score_text('v.third_party_score') }},
      ' (report version ', cast(v.third_party_report_version as string), ')') end,
    case when v.verdict_status = 'cycle_running' then concat_ws('', 'cycle still running: evidence to ',
      cast(v.last_year as string), ', verdict in ', cast(v.cycle_end as string)) end,
    case when v.verdict_status = 'third_party_pending' then 'third-party evaluation pending' end,
    case when v.verdict_status = 'indicator_only' then
      'third-party evaluation pending: indicator-only verdict (TP.pending_blocks_verdict = 0)' end
  ) as evidence,
  v.years_evaluated,
  v.is_complete,
  v.judged_year,
  v.baseline_index,
  v.end_index,
  v.index_change,
  v.end_rank,
  v.end_rank_is_shared,
  v.end_n_ranked,
  v.end_group,
  v.end_median_rank,
  v.end_p05_rank,
  v.end_p95_rank,
  v.end_share_bottom,
  v.watch_years,
  v.rectification_years,
  v.review_years,
  v.not_reported_years,
  v.verdict in ('exit_candidate', 'not_reported') as counts_as_exit,
  v.prev_rect_or_worse,
  {{ is_robust }} as is_robust,
  -- why is_robust is what it is, never a bare null (labels seed, set robustness), as fct_evaluation_year says it
  case
    when {{ is_robust }} then 'robust'
    when not {{ is_robust }} then 'not_robust'
    when v.verdict in ('normal', 'withdrawn') then 'robustness_not_applicable'
    else 'robustness_not_assessed'
  end as robustness,
  v.withdrawn_year,
  v.third_party_status,
  v.third_party_score,
  v.third_party_weight,
  v.third_party_evaluator,
  v.third_party_report_version,
  v.verdict_status,
  v.catalog_versions,
  bc.catalog_version as baseline_catalog_version,
  v.end_catalog_version,
  bc.catalog_version = v.end_catalog_version as index_change_like_for_like,
  v.index_change_same_catalog,
  v.rules_versions,
  v.verdict_rules_version,
  v.performance_groups
from with_third_party as v
left join catalog_of_year as bc on bc.year = v.cycle_baseline_year
