{{ config(materialized='table') }}
-- Status of every plan target as it stood in each year of its plan period. fct_target_status only holds the
-- latest status per target; the watch rule W2 needs the status in each evaluated year. The method is the one
-- of fct_target_status (docs/methodology.md §7, Eurostat's ratio of growth rates) applied with the data up to
-- that year: current value = latest observed (not carried-forward) value after the baseline year and up to
-- the year; thresholds TS.on_track_ratio / TS.acceleration_ratio of the rules seed.
-- A plan covers the years after its baseline year up to its target year, so 2020 belongs to the 2016-2020
-- plan and the 2021-2025 plan starts being judged in 2021.
-- "Key targets" (W2) are the targets on the catalog's key indicators (is_key_indicator of the catalog version
-- in force that year); a catalog without that flag makes every target key.
{%- set has_key_flag = execute and ('is_key_indicator' in (adapter.get_columns_in_relation(ref('dim_indicator'))
                                                           | map(attribute='name') | map('lower') | list)) %}
with params as (
  select * from {{ ref('int_evaluation_params') }}
),

targets as (
  select distinct
    t.unit_code, t.plan_id, t.indicator_code, t.baseline_year, t.baseline_value, t.target_year, t.target_value
  from {{ ref('fct_target_status') }} t
),

indicator_years as (
  select unit_code, indicator_code, year, catalog_version, value, is_imputed
  from {{ ref('fct_city_indicator_year') }}
),

plan_years as (
  select t.*, v.year, v.catalog_version
  from targets t
  join indicator_years v
    on v.unit_code = t.unit_code
   and v.indicator_code = t.indicator_code
   and v.year > t.baseline_year
   and v.year <= t.target_year
),

latest_observed as (
  select
    p.unit_code, p.plan_id, p.indicator_code, p.year,
    o.year as current_year,
    o.value as current_value,
    row_number() over (
      partition by p.unit_code, p.plan_id, p.indicator_code, p.year
      order by o.year desc nulls last
    ) as recency
  from plan_years p
  join indicator_years o
    on o.unit_code = p.unit_code
   and o.indicator_code = p.indicator_code
   and o.year > p.baseline_year
   and o.year <= p.year
   and o.value is not null
   and not coalesce(o.is_imputed, false)
),

joined as (
  select
    p.*,
    o.current_year,
    o.current_value,
    coalesce(i.direction, 'higher') as direction,
    {%- if has_key_flag %}
    coalesce(i.is_key_indicator, false) as is_key_target
    {%- else %}
    true as is_key_target
    {%- endif %}
  from plan_years p
  left join latest_observed o
    on o.unit_code = p.unit_code and o.plan_id = p.plan_id and o.indicator_code = p.indicator_code
   and o.year = p.year and o.recency = 1
  left join {{ ref('dim_indicator') }} i
    on i.indicator_code = p.indicator_code
   and i.catalog_version = p.catalog_version
),

measured as (
  select
    j.*,
    case when j.target_value <> j.baseline_value
         then (j.current_value - j.baseline_value) / (j.target_value - j.baseline_value) end as progress,
    case
      when j.current_value is null or j.target_value = j.baseline_value then null
      when j.current_value > 0 and j.baseline_value > 0 and j.target_value > 0 then
        (power(j.current_value / j.baseline_value, 1.0 / (j.current_year - j.baseline_year)) - 1)
        / (power(j.target_value / j.baseline_value, 1.0 / (j.target_year - j.baseline_year)) - 1)
      else
        ((j.current_value - j.baseline_value) / (j.current_year - j.baseline_year))
        / ((j.target_value - j.baseline_value) / (j.target_year - j.baseline_year))
    end as growth_ratio,
    (j.direction = 'higher' and j.current_value >= j.target_value)
      or (j.direction = 'lower' and j.current_value <= j.target_value) as meets_target
  from joined j
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
  m.growth_ratio,
  case
    when m.current_value is null then 'insufficient_data'
    when m.meets_target then 'achieved'
    when m.growth_ratio is null then 'deteriorating'  -- the baseline already met the target, now missed
    when m.growth_ratio < 0 then 'deteriorating'
    when m.growth_ratio >= p.ts_on_track_ratio then 'on_track'
    when m.growth_ratio >= p.ts_acceleration_ratio then 'acceleration_needed'
    else 'limited_progress'
  end as status,
  p.rules_version
from measured m
cross join params p
