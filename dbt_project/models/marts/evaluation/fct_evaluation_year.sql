{{ config(materialized='table') }}
{#- whether the stage's flagging condition held in GEN.robust_share of the uncertainty runs (null: see robustness) -#}
{%- set is_robust -%}
  case s.stage
    when 'exit_candidate' then s.exit_robust
    when 'rectification' then s.rectification_robust
    when 'watch' then s.watch_robust
    when 'exemplary' then s.exemplary_robust
    when 'review' then false
    when 'not_reported' then true
  end
{%- endset %}
{#- X1, R2 and EX1 judge the cycle's change as published AND, across a catalogue change under GEN.change_like_for_like,
    like-for-like (int_evaluation_signals_year): where the two differ the reason names both, or a city read only the
    published figure a verdict it could not check against the one the rule also compared (the cycle evidence named
    both, the year's reason did not) -#}
{%- set like_for_like -%}
  case when p.gen_change_like_for_like = 1 and s.index_change_same_catalog <> s.index_change_cycle then
    concat_ws('', ', like-for-like ', case when s.index_change_same_catalog > 0 then '+' end,
      {{ published_text('s.index_change_same_catalog') }}) end
{%- endset %}
-- Evaluation stage of every programme unit in every evaluated year, with the rules that fired and the values
-- that made them fire. Stage precedence: not_reported > exit_candidate > rectification > review > watch >
-- exemplary > normal;
-- rule_stage is the stage the rules alone give, stage the one after the robustness gate (review).
with params as (
  select * from {{ ref('int_evaluation_params_year') }}
),

signals as (
  select * from {{ ref('int_evaluation_signals_year') }}
),

chain as (
  select * from {{ ref('int_evaluation_cycle_chain') }}
),

-- sources a unit has not reported within the grace period (fct_reporting_status)
reporting as (
  select
    unit_code,
    year,
    {{ dbt.listagg('source', "', '", 'order by source') }} as not_reported_sources
  from {{ ref('fct_reporting_status') }}
  where status = 'not_reported'
  group by unit_code, year
),

-- sources no unit reported at all for the year (fct_reporting_status none_received): not the unit's failure, not
-- exit; named in the reasons so neither the city nor the office reads the year as complete
none_received as (
  select
    unit_code,
    year,
    {{ dbt.listagg('source', "', '", 'order by source') }} as none_received_sources
  from {{ ref('fct_reporting_status') }}
  where status = 'none_received'
  group by unit_code, year
),

fired as (
  select
    s.*,
    coalesce(ch.prev_rect_or_worse, false) as prev_cycle_rect_or_worse,
    rp.not_reported_sources,
    nr.none_received_sources,
    p.x1_enabled = 1 and coalesce(ch.prev_rect_or_worse, false)
      -- not improved: its change did not rise by more than X1.improve_min_points, as published nor (office rule
      -- GEN.change_like_for_like, across a catalogue change) like-for-like -- int_evaluation_signals_year
      and coalesce(not s.x1_change_improved, false)
      and (p.x1_require_still_flagged = 0 or s.is_watch) as x1
  from signals as s
  inner join params as p on p.evaluation_year = s.year
  left join chain as ch on ch.unit_code = s.unit_code and ch.cycle_start = s.cycle_start
  left join reporting as rp on rp.unit_code = s.unit_code and rp.year = s.year
  left join none_received as nr on nr.unit_code = s.unit_code and nr.year = s.year
),

robust as (
  select
    f.*,
    -- Robustness per rule family, from the uncertainty runs (null when they have not been run). A
    -- rectification or exit flag is robust only if the city is also in the flagging condition (bottom
    -- group) in >= robust_share of runs. rectification_robust comes from int_evaluation_signals_year.
    case when f.has_uncertainty then
      f.x1 and (1 - f.share_improved) >= p.robust_share and (p.x1_require_still_flagged = 0 or f.is_watch_robust)
    end as exit_robust,
    case when f.has_uncertainty then f.is_watch_robust end as watch_robust,
    case when f.has_uncertainty then
      f.ex1 and f.share_leader >= p.robust_share and f.share_improved >= p.robust_share
    end as exemplary_robust
  from fired as f
  inner join params as p on p.evaluation_year = f.year
),

staged as (
  select
    r.*,
    case
      when r.not_reported_sources is not null then 'not_reported'
      when r.x1 then 'exit_candidate'
      when r.r1 or r.r2 then 'rectification'
      when r.is_watch then 'watch'
      when r.ex1 then 'exemplary'
      else 'normal'
    end as rule_stage,
    -- Sanctions only on robust evidence: a rectification or exit candidacy whose evidence does not hold in
    -- robust_share of the uncertainty runs becomes review (人工复核) with the same evidence in rules_fired.
    -- Without uncertainty runs (null robustness) the rules' stage stands, marked is_robust null.
    case
      -- not reporting within the grace period counts as exit (management measures); it is a fact, not a
      -- statistical judgement, so it needs no robustness check
      when r.not_reported_sources is not null then 'not_reported'
      -- a programme unit without a composite (a pillar missing) is never silently unranked: review
      when r.rank is null then 'review'
      when r.x1 and coalesce(r.exit_robust, true) then 'exit_candidate'
      when (r.r1 or r.r2) and coalesce(r.rectification_robust, true) then 'rectification'
      when r.x1 or r.r1 or r.r2 then 'review'
      when r.is_watch then 'watch'
      when r.ex1 then 'exemplary'
      else 'normal'
    end as stage
  from robust as r
)

select
  s.unit_code,
  s.unit_name,
  s.year,
  s.cycle,
  s.cycle_start,
  s.cycle_end,
  s.cycle_baseline_year,
  s.stage,
  s.rule_stage,
  lag(s.stage) over (partition by s.unit_code order by s.year nulls last) as previous_stage,
  concat_ws('; ',
    case when s.not_reported_sources is not null then concat_ws('', 'not reported within the grace period: ',
      s.not_reported_sources, ' (counts as exit)') end,
    case when s.none_received_sources is not null then concat_ws('', 'no unit reported within the grace period: ',
      s.none_received_sources, ' (a gap of the collection, not counted as exit)') end,
    case when s.rank is null and s.not_reported_sources is null then
      'not ranked: no composite (a pillar without enough indicator weight)' end,
    case when s.x1 then concat_ws('', 'X1 exit candidate (previous cycle in rectification; index change since ',
      cast(s.cycle_baseline_year as string), ' ',
      {{ published_text('s.index_change_cycle') }}, {{ like_for_like }}, ')') end,
    case when s.r1 then concat_ws('', 'R1 rectification (', cast(s.watch_run_years as string),
      ' consecutive watch years)') end,
    case when s.r2 then concat_ws('', 'R2 rectification (index change over cycle ',
      {{ published_text('s.index_change_cycle') }}, {{ like_for_like }}, ', threshold -',
      {{ published_text('s.r2_threshold_points') }}, ')') end,
    -- a shared rank says so (labels seed: 并列 / tied), as every reader of the rank does
    case when s.w1 then concat_ws('', 'W1 watch (group ', s.performance_group, ', rank ',
      cast(s.rank as string), '/', cast(s.n_ranked as string),
      case when s.rank_is_shared then concat_ws('', ' ', (select l.name_en from {{ ref('labels') }} as l
                                                    where l.code = 'rank_shared')) end,
      ')') end,
    case when s.w2 then concat_ws('', 'W2 watch (', cast(s.targets_lagging as string), ' of ',
      cast(s.targets_evaluable as string), ' targets lagging)') end,
    -- EX1 needs a gain strictly above EX1.improve_min_points, judged on the published change it shows
    case when s.ex1 then concat_ws('', 'EX1 exemplary (group ', s.performance_group, ', index change since ',
      cast(s.cycle_baseline_year as string), ' +',
      {{ published_text('s.index_change_cycle') }}, {{ like_for_like }}, ')') end
  ) as rules_fired,
  s.x1 as fired_x1,
  s.r1 as fired_r1,
  s.r2 as fired_r2,
  s.w1 as fired_w1,
  s.w2 as fired_w2,
  s.ex1 as fired_ex1,
  s.composite,
  s.composite_index,
  s.baseline_index,
  s.index_change_cycle,
  s.index_change_same_catalog,
  s.index_change_noise_sd,
  s.r2_threshold_points,
  s.rank,
  s.n_ranked,
  s.rank_is_shared,
  s.performance_group,
  s.targets_evaluable,
  s.targets_lagging,
  s.targets_lagging_share,
  s.watch_run_years,
  s.robust_watch_run_years,
  s.prev_cycle_rect_or_worse,
  s.median_rank,
  s.p05_rank,
  s.p95_rank,
  s.share_bottom,
  s.share_leader,
  s.share_regressing,
  s.share_improved,
  s.rectification_robust,
  s.exit_robust,
  s.watch_robust,
  s.exemplary_robust,
  {{ is_robust }} as is_robust,
  -- why is_robust is what it is, never a bare null (labels seed, set robustness): a normal year raised no flag to
  -- be robust about (robustness_not_applicable), a flag without uncertainty runs was not assessed -- 510400 went
  -- from "not robust" to null when a corrected file moved its stage from review to normal, and no reader said why
  case
    when {{ is_robust }} then 'robust'
    when not {{ is_robust }} then 'not_robust'
    when s.stage = 'normal' then 'robustness_not_applicable'
    else 'robustness_not_assessed'
  end as robustness,
  s.not_reported_sources,
  s.stage in ('exit_candidate', 'not_reported') as counts_as_exit,
  s.withdrawn_year,
  s.catalog_version,
  s.rules_version
from staged as s
inner join params as p on p.evaluation_year = s.year
