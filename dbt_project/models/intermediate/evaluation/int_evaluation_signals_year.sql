{{ config(materialized=ephemeral_except_on_spark()) }}
-- Per programme unit and evaluated year: the evidence each rule looks at, and which year-level rules fire.
-- Cycle-chained rules (exit) are resolved in int_evaluation_cycle_chain / fct_evaluation_year.
{%- set unc_src = source('evaluation_inputs', 'fct_rank_uncertainty') %}
{%- set unc_rel = adapter.get_relation(database=unc_src.database, schema=unc_src.schema,
                                       identifier=unc_src.identifier) if execute else none %}
{%- if execute and unc_rel is none %}
  {{ log("fct_rank_uncertainty not found: evaluation robustness columns will be null."
          ~ " Run the uncertainty step first.", info=true) }}
{%- endif %}
with params as (
  select * from {{ ref('int_evaluation_params_year') }}
),

roster as (
  select unit_code, unit_name, withdrawn_year
  from {{ ref('dim_city') }}
  where is_programme
),

-- A withdrawn city keeps its earlier years; from its withdrawal year on it is no longer evaluated.
evaluated as (
  select
    s.unit_code, r.unit_name, r.withdrawn_year, s.year, s.catalog_version,
    s.composite, s.composite_index, s.rank, s.n_ranked, s.rank_is_shared, s.performance_group
  from {{ ref('fct_city_score_year') }} as s
  inner join roster as r on r.unit_code = s.unit_code
  -- ranked units, and programme units of the year without a rank (no composite: a pillar missing): they are
  -- never silently dropped, fct_evaluation_year gives them review or not_reported
  where (s.rank is not null or s.is_evaluated)
    and (r.withdrawn_year is null or s.year < r.withdrawn_year)
),

-- The cycle of each unit-year comes from its programme's calendar (int_programme_unit_years, seed
-- programme_calendar): the membership that governs the year gives the cycle's first and last year and its
-- baseline year. One definition, also read by the uncertainty step (marts.fct_programme_unit_year). A
-- 2012-2016 demonstration city keeps the cycles anchored at GEN.cycle_anchor_year; a 2022 strong-city unit is
-- judged on its own 2022-2024 cycle with baseline 2021. No calendar row (a year before the first cycle): no cycle.
calendar as (
  select unit_code, year, cycle_start, cycle_end, cycle_baseline_year, withdrawn_year
  from {{ ref('int_programme_unit_years') }}
  where cycle_start is not null
),

-- withdrawn_year is the governing membership's (the calendar's), not the unit's last withdrawal: a unit that
-- withdrew and re-applied keeps "withdrawn" on the cycle it left
with_cycle as (
  select
    e.unit_code, e.unit_name, k.withdrawn_year, e.year, e.catalog_version,
    e.composite, e.composite_index, e.rank, e.n_ranked, e.rank_is_shared, e.performance_group,
    k.cycle_start,
    k.cycle_end,
    k.cycle_baseline_year
  from evaluated as e
  left join calendar as k on k.unit_code = e.unit_code and k.year = e.year
),

target_counts as (
  select
    unit_code,
    year,
    cast(sum(case when status not in ('insufficient_data', 'invalid_target') then 1 else 0 end) as integer)
      as targets_evaluable,
    cast(sum(case when status in ('limited_progress', 'deteriorating') then 1 else 0 end) as integer)
      as targets_lagging
  from {{ ref('fct_target_status_year') }}
  where is_key_target
  group by unit_code, year
),

uncertainty as (
  {%- if unc_rel is not none %}
  select unit_code, year, median_rank, p05_rank, p95_rank, share_bottom, share_leader,
         share_regressing, share_improved, cast(1 as integer) as has_uncertainty
  from {{ unc_src }}
  {%- else %}
  select
    cast(null as string) as unit_code, cast(null as integer) as year,
    cast(null as double) as median_rank, cast(null as double) as p05_rank, cast(null as double) as p95_rank,
    cast(null as double) as share_bottom, cast(null as double) as share_leader,
    cast(null as double) as share_regressing, cast(null as double) as share_improved,
    cast(0 as integer) as has_uncertainty
  from params
  where 1 = 0
  {%- endif %}
),

joined as (
  select
    c.*,
    b.composite_index as baseline_index,
    -- The change a city reads is the change of the PUBLISHED figures (macro published_index, GEN.index_decimals,
    -- exact decimals), and X1 (not improved: <= its minimum), EX1 (> its minimum) and R2 judge that figure, as the
    -- ranks and the performance groups judge the published index: a city reading 80.1 in its baseline year and
    -- 80.1 at the cycle's end has not improved (the unrounded +0.04 made it "improved" while its evidence read
    -- "+0.0"), and the figure in the evidence, the cycle table and the extracts is the one the rule compared. The
    -- difference of two exact decimals is exact (no float noise to take off); the unrounded change is
    -- fct_index_change_attribution's.
    cast({{ published_index('c.composite_index') }} - {{ published_index('b.composite_index') }} as double)
      as index_change_cycle,
    -- the same change with the baseline year re-weighted by this year's catalog: a fall that only the
    -- weight switch produced (e.g. 2021.1 -> 2024.1 inside 2020-2022) is not a regression of the city
    cast({{ published_index('c.composite_index') }} - {{ published_index('bc.composite_index') }} as double)
      as index_change_same_catalog,
    coalesce(tc.targets_evaluable, 0) as targets_evaluable,
    coalesce(tc.targets_lagging, 0) as targets_lagging,
    case when tc.targets_evaluable > 0 then cast(tc.targets_lagging as double) / tc.targets_evaluable end
      as targets_lagging_share,
    u.median_rank, u.p05_rank, u.p95_rank, u.share_bottom, u.share_leader, u.share_regressing,
    u.share_improved,
    coalesce(u.has_uncertainty = 1, false) as has_uncertainty
  from with_cycle as c
  inner join params as p on p.evaluation_year = c.year
  left join {{ ref('fct_city_score_year') }} as b
    on b.unit_code = c.unit_code and b.year = c.cycle_baseline_year
  left join {{ ref('int_evaluation_index_by_catalog') }} as bc
    on bc.unit_code = c.unit_code and bc.year = c.cycle_baseline_year and bc.catalog_version = c.catalog_version
  left join target_counts as tc on tc.unit_code = c.unit_code and tc.year = c.year
  left join uncertainty as u on u.unit_code = c.unit_code and u.year = c.year
),

-- R2 threshold calibrated on the data's own noise: the robust SD (1.4826 x median absolute deviation, so the
-- few real movers do not inflate it) of the index change since the cycle baseline among the year's evaluated
-- units, times R2.noise_z; never below R2.regress_points. pipelines/evaluation/uncertainty.py computes the
-- same figure for the Monte Carlo share of regressing runs.
change_median as (
  select year, {{ median_of('index_change_cycle') }} as median_change
  from joined
  where index_change_cycle is not null
  group by year
),

noise as (
  select
    j.year,
    1.4826 * {{ median_of('abs(j.index_change_cycle - m.median_change)') }} as index_change_noise_sd
  from joined as j
  inner join change_median as m on m.year = j.year
  where j.index_change_cycle is not null
  group by j.year
),

calibrated as (
  select
    j.*,
    n.index_change_noise_sd,
    -- the threshold as the evidence shows it (published precision): a fall is judged against the figure a city
    -- reads beside it, never against hidden decimals (-5.0 beside "threshold -5.0" fires)
    cast({{ published_index("case when n.index_change_noise_sd * p.r2_noise_z > p.r2_regress_points
         then n.index_change_noise_sd * p.r2_noise_z else p.r2_regress_points end") }} as double)
      as r2_threshold_points
  from joined as j
  inner join params as p on p.evaluation_year = j.year
  left join noise as n on n.year = j.year
),

flags as (
  select
    j.*,
    p.w1_enabled = 1 and j.performance_group = p.w1_bottom_group as w1,
    p.w2_enabled = 1 and j.targets_evaluable >= p.w2_min_targets
      and j.targets_lagging_share > p.w2_lagging_share as w2,
    p.r2_enabled = 1 and j.year = j.cycle_end and j.index_change_cycle <= -j.r2_threshold_points
      -- only when the scores behind both years are known can the weight switch be ruled out; without them
      -- (hand-built fixtures) the published change stands
      and coalesce(j.index_change_same_catalog, j.index_change_cycle) <= -j.r2_threshold_points
      and j.composite_index < p.r2_below_index as r2,
    -- Across a catalogue change (the baseline year scored under another catalogue than this year) a finding on the
    -- cycle's change must hold both as published and like-for-like (office rule GEN.change_like_for_like, as R2
    -- above): a rise only the weight switch produced is not the city's doing and makes no one exemplary.
    p.ex1_enabled = 1 and j.performance_group = p.ex1_leader_group
      and j.index_change_cycle > p.ex1_improve_min_points
      and (p.gen_change_like_for_like = 0
           or coalesce(j.index_change_same_catalog, j.index_change_cycle) > p.ex1_improve_min_points) as ex1,
    -- X1's "improved" (its change rose by more than X1.improve_min_points), read by fct_evaluation_year (X1 of the
    -- year) and int_evaluation_cycle_chain (whether rectification carries on): under GEN.change_like_for_like a rise
    -- in either comparison is an improvement, so "not improved" holds both as published and like-for-like -- on
    -- the sample 410700 was an exit candidate for 2020-2022 on -2.4 published while like-for-like it rose (+0.1).
    -- Null when the cycle's change is unknown (no baseline index), read as not improved, as before.
    case when j.index_change_cycle is not null then
      j.index_change_cycle > p.x1_improve_min_points
      or (p.gen_change_like_for_like = 1
          and coalesce(j.index_change_same_catalog, j.index_change_cycle) > p.x1_improve_min_points)
    end as x1_change_improved,
    -- year - lag(year) > 1 means a year was not evaluated, which breaks a run of consecutive watch years
    coalesce(j.year - lag(j.year) over (partition by j.unit_code order by j.year nulls last), 1) > 1 as year_gap
  from calibrated as j
  inner join params as p on p.evaluation_year = j.year
),

watch as (
  select
    f.*,
    coalesce(f.w1, false) or coalesce(f.w2, false) as is_watch,
    -- The flagging condition of the robustness check is the bottom group (issue 5): a flag is robust only when
    -- the city is in it in at least robust_share of the uncertainty runs. Target-only (W2) flags therefore
    -- count as not robust: the composite does not confirm them, whatever the method.
    coalesce(f.w1, false) and f.share_bottom >= p.robust_share as is_watch_robust
  from flags as f
  inner join params as p on p.evaluation_year = f.year
),

-- Consecutive-year runs as gaps-and-islands: a non-watch year or a missing year opens a new island, so
-- within an island only its first row can be a non-watch row.
islands as (
  select
    w.*,
    row_number() over (partition by w.unit_code order by w.year nulls last) as rn,
    sum(case when not w.is_watch or w.year_gap then 1 else 0 end)
      over (partition by w.unit_code order by w.year nulls last rows between unbounded preceding and current row)
      as watch_island,
    sum(case when not w.is_watch_robust or w.year_gap then 1 else 0 end)
      over (partition by w.unit_code order by w.year nulls last rows between unbounded preceding and current row)
      as robust_island
  from watch as w
),

runs as (
  select
    i.*,
    cast(case when i.is_watch then
      row_number() over (partition by i.unit_code, i.watch_island order by i.year nulls last)
      - sum(case when i.is_watch then 0 else 1 end) over (partition by i.unit_code, i.watch_island)
    else 0 end as integer) as watch_run_years,
    cast(case when i.is_watch_robust then
      row_number() over (partition by i.unit_code, i.robust_island order by i.year nulls last)
      - sum(case when i.is_watch_robust then 0 else 1 end) over (partition by i.unit_code, i.robust_island)
    else 0 end as integer) as robust_watch_run_years
  from islands as i
)

select
  r.unit_code, r.unit_name, r.withdrawn_year, r.year, r.catalog_version,
  r.index_change_same_catalog,
  r.index_change_noise_sd,
  r.r2_threshold_points,
  -- A sanction (rectification) is robust when its evidence holds in >= robust_share of the uncertainty runs:
  -- R1 by a run of robust watch years, R2 by regressing in enough runs while robustly in the bottom group.
  -- Null when the uncertainty step has not run (provisional evaluation).
  case when r.has_uncertainty then
    (p.r1_enabled = 1 and r.watch_run_years >= p.r1_watch_years and r.robust_watch_run_years >= p.r1_watch_years)
    or (coalesce(r.r2, false) and r.share_regressing >= p.robust_share and r.is_watch_robust)
  end as rectification_robust,
  r.cycle_start, r.cycle_end, r.cycle_baseline_year,
  case when r.cycle_start is not null
       then {{ year_range('r.cycle_start', 'r.cycle_end') }} end as cycle,
  r.composite, r.composite_index, r.rank, r.n_ranked, r.rank_is_shared, r.performance_group,
  r.baseline_index, r.index_change_cycle,
  r.targets_evaluable, r.targets_lagging, r.targets_lagging_share,
  r.median_rank, r.p05_rank, r.p95_rank, r.share_bottom, r.share_leader, r.share_regressing, r.share_improved,
  r.has_uncertainty,
  p.rules_version,
  coalesce(r.w1, false) as w1,
  coalesce(r.w2, false) as w2,
  r.is_watch,
  r.is_watch_robust,
  r.watch_run_years,
  r.robust_watch_run_years,
  p.r1_enabled = 1 and r.watch_run_years >= p.r1_watch_years as r1,
  coalesce(r.r2, false) as r2,
  coalesce(r.ex1, false) as ex1,
  r.x1_change_improved
from runs as r
inner join params as p on p.evaluation_year = r.year
