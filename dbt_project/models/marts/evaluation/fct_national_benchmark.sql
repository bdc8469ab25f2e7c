{{ config(materialized='table') }}
-- The national unit 000000 (全国) from the statistics path: the sum of the 31 provinces' published totals, so
-- its indicators are exactly those the statistics support (QLT01 invention patents in force per 10k people,
-- QLT03 invention share of grants, ENV03 grants per 10k people), with the same formulas as §3. Benchmark for
-- the acceptance score and reference line in the dashboard. Published check: QLT01 13.3 (2019).
with stats as (
  select region_code, year, grants_invention, grants_total, in_force_invention
  from {{ ref('stg_raw__patent_stats') }}
  where region_code like '__0000' and region_code <> '000000'
),

population as (
  select region_code, year, population_10k
  from {{ ref('stg_raw__population') }}
  where region_code like '__0000' and region_code <> '000000'
),

national as (
  select
    s.year,
    cast(count(*) as integer) as n_provinces,
    sum(s.grants_invention) as grants_invention,
    sum(s.grants_total) as grants_total,
    sum(s.in_force_invention) as in_force_invention,
    sum(p.population_10k) as population_10k
  from stats as s
  inner join population as p on p.region_code = s.region_code and p.year = s.year
  group by s.year
),

indicators as (
  select year, n_provinces, 'QLT01' as indicator_code,
         {{ safe_divide('in_force_invention', 'population_10k') }} as value
  from national
  union all
  select year, n_provinces, 'QLT03', {{ safe_divide('grants_invention', 'grants_total') }} from national
  union all
  select year, n_provinces, 'ENV03', {{ safe_divide('grants_total', 'population_10k') }} from national
)

select
  cast('000000' as string) as unit_code,
  cast('全国' as string) as unit_name,
  i.year,
  i.indicator_code,
  i.value,
  i.n_provinces,
  cast('statistics path: sum of provincial patent_stats / population' as string) as basis
from indicators as i
where i.value is not null
