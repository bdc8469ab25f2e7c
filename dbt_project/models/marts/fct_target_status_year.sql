{{ config(materialized='table') }}
-- THE target-status method (docs/methodology.md §7, Eurostat's ratio of growth rates): the status of every
-- plan target as it stood in each year of its plan period, judged with the data up to that year.
-- fct_target_status (latest status per target) is a filter of this model and must never re-implement it;
-- the singular test assert_target_status_is_latest_year keeps the two from drifting.
--   current value: latest observed (raw, not carried-forward or imputed) value after the baseline year and up
--     to the year.
--   progress: share of the baseline-to-target gap closed (uncapped); progress_index: the same capped at 1.
--   growth_ratio: observed / required compound annual growth rate; linear pace when a value is <= 0, where
--     a compound rate is undefined (growth_basis says which).
--   status thresholds: TS.on_track_ratio / TS.acceleration_ratio of the rules seed (no literals here).
--   no target (target_value missing, zero or below, or NOT BEYOND the baseline value in the indicator's direction:
--     equal to it, or short of it): 'invalid_target'. A target equal to its baseline asks for nothing (0 -> 0 read
--     "achieved" for any city that stayed at 0), one the baseline already beyond asks for less than nothing (10 ->
--     9 read "achieved", 100 acceptance points, for a city that only kept what it had, while 10 -> 10 was invalid),
--     and a target of 0 is the generator's / an office's placeholder; none is achieved, on track or lagging, and
--     none counts as evaluable. The pages read this status; none re-derives it from the values.
-- A plan covers the years after its baseline year up to its target year, so 2020 belongs to the 2016-2020
-- plan and the 2021-2025 plan starts being judged in 2021.
-- "Key targets" (W2) are the targets on the catalog's key indicators (is_key_indicator of the catalog version
-- in force that year).
with params as (
  -- The TS thresholds straight from the rules seed: this model runs in the indicator step, before the
  -- evaluation models (int_evaluation_params_year lives there), and fct_target_status reads it.
  select
    max(cast(rules_version as string)) as rules_version,
    cast(max(case when rule_code = 'TS' and param = 'on_track_ratio' then cast(value as string) end)
         as double) as ts_on_track_ratio,
    cast(max(case when rule_code = 'TS' and param = 'acceleration_ratio' then cast(value as string) end)
         as double) as ts_acceleration_ratio
  from {{ ref('evaluation_rules') }}
),

targets as (
  select distinct
    unit_code, plan_id, indicator_code, baseline_year, baseline_value, target_year, target_value
  from {{ ref('stg_raw__targets') }}
),

indicator_years as (
  select unit_code, indicator_code, year, catalog_version, raw_value
  from {{ ref('fct_city_indicator_year') }}
),

any_direction as (
  select indicator_code, max(direction) as direction
  from {{ ref('dim_indicator') }}
  group by indicator_code
),

plan_years as (
  select t.*, v.year, v.catalog_version
  from targets as t
  inner join indicator_years as v
    on v.unit_code = t.unit_code
   and v.indicator_code = t.indicator_code
   and v.year > t.baseline_year
   and v.year <= t.target_year
),

latest_observed as (
  select
    p.unit_code, p.plan_id, p.indicator_code, p.year,
    o.year as current_year,
    o.raw_value as current_value,
    row_number() over (
      partition by p.unit_code, p.plan_id, p.indicator_code, p.year
      order by o.year desc nulls last
    ) as recency
  from plan_years as p
  inner join indicator_years as o
    on o.unit_code = p.unit_code
   and o.indicator_code = p.indicator_code
   and o.year > p.baseline_year
   and o.year <= p.year
   and o.raw_value is not null
),

joined as (
  select
    p.*,
    o.current_year,
    o.current_value,
    case when coalesce(i.direction, a.direction, 'higher') = 'lower' then -1.0 else 1.0 end as sign,
    coalesce(i.is_key_indicator, false) as is_key_target
  from plan_years as p
  left join latest_observed as o
    on o.unit_code = p.unit_code and o.plan_id = p.plan_id and o.indicator_code = p.indicator_code
   and o.year = p.year and o.recency = 1
  left join {{ ref('dim_indicator') }} as i
    on i.indicator_code = p.indicator_code
   and i.catalog_version = p.catalog_version
  left join any_direction as a on a.indicator_code = p.indicator_code
),

assessable as (
  select
    j.*,
    (j.current_value is not null) as has_progress,
    (
      j.target_value is null or j.target_value <= 0 or j.sign * (j.target_value - j.baseline_value) <= 0
    ) as is_invalid_target,
    (j.current_value is not null and j.sign * (j.current_value - j.target_value) >= 0) as meets_target,
    (j.sign * (j.target_value - j.baseline_value) > 0 and j.target_year > j.baseline_year) as has_gap,
    (j.baseline_value > 0 and j.current_value > 0 and j.target_value > 0) as can_compound
  from joined as j
),

rates as (
  select
    a.*,
    case when a.has_progress and a.has_gap and a.can_compound then
      power(a.current_value / a.baseline_value, 1.0 / cast(a.current_year - a.baseline_year as double)) - 1
    end as observed_cagr,
    case when a.has_progress and a.has_gap and a.can_compound then
      power(a.target_value / a.baseline_value, 1.0 / cast(a.target_year - a.baseline_year as double)) - 1
    end as required_cagr,
    case when a.has_progress and a.has_gap then
      (a.current_value - a.baseline_value) / cast(a.current_year - a.baseline_year as double)
    end as observed_slope,
    case when a.has_progress and a.has_gap then
      (a.target_value - a.baseline_value) / cast(a.target_year - a.baseline_year as double)
    end as required_slope
  from assessable as a
),

measured as (
  select
    r.*,
    case when r.has_progress and r.has_gap then
      (r.current_value - r.baseline_value) / (r.target_value - r.baseline_value)
    end as progress,
    case
      when r.required_cagr is not null and r.required_cagr <> 0 then r.observed_cagr / r.required_cagr
      when r.required_slope is not null and r.required_slope <> 0 then r.observed_slope / r.required_slope
    end as growth_ratio,
    case
      when r.required_cagr is not null and r.required_cagr <> 0 then 'cagr'
      when r.required_slope is not null and r.required_slope <> 0 then 'linear'
    end as growth_basis
  from rates as r
)

select
  m.unit_code,
  m.plan_id,
  m.indicator_code,
  m.year,
  m.baseline_year,
  m.baseline_value,
  m.target_year,
  m.target_value,
  m.current_year,
  m.current_value,
  m.is_key_target,
  m.progress,
  case
    when m.is_invalid_target then null
    when m.progress is not null then least(1.0, m.progress)
    when m.has_progress and m.meets_target then 1.0
  end as progress_index,
  case when not m.is_invalid_target then m.growth_ratio end as growth_ratio,
  case when not m.is_invalid_target then m.growth_basis end as growth_basis,
  case
    when m.is_invalid_target then 'invalid_target'
    when not m.has_progress then 'insufficient_data'
    when m.meets_target then 'achieved'
    when not m.has_gap then 'deteriorating'
    when m.growth_ratio is null then 'insufficient_data'
    when m.growth_ratio >= p.ts_on_track_ratio then 'on_track'
    when m.growth_ratio >= p.ts_acceleration_ratio then 'acceleration_needed'
    when m.growth_ratio >= 0 then 'limited_progress'
    else 'deteriorating'
  end as status,
  case
    when not m.has_progress or m.is_invalid_target then null
    when m.current_year >= m.target_year then m.current_value
    when m.growth_basis = 'cagr' then
      m.current_value * power(1 + m.observed_cagr, cast(m.target_year - m.current_year as double))
    when m.growth_basis = 'linear' then
      m.current_value + m.observed_slope * cast(m.target_year - m.current_year as double)
  end as projected_value,
  p.rules_version
from measured as m
cross join params as p
