{{ config(materialized='table', schema='intermediate') }}
-- Composite and composite index of every ranked programme unit and year recomputed with the weights of EVERY
-- catalog version (not only the one in force that year), exactly as int_pillar_scores / int_composite /
-- fct_city_score_year compute them: pillar = weighted mean of the indicator scores present (weights
-- renormalised, pillar only when var('min_pillar_coverage') of its weight is present), composite = pillar-
-- weighted mean, index = 100 x composite / mean composite of the ranked units of the year.
-- Why: a change between two years judged under different catalogs mixes what the city did with the weight
-- switch. R2 compares like with like (the baseline year re-weighted with the end year's catalog), and the
-- change attribution gives the weight switch its own part.
with scores as (
  select unit_code, year, indicator_code, normalised_score
  from {{ ref('fct_city_indicator_year') }}
  where peer_group = 'city' and normalised_score is not null
),

ranked as (
  select unit_code, year
  from {{ ref('fct_city_score_year') }}
  where rank is not null
),

catalog as (
  select catalog_version, indicator_code, pillar_code, weight, pillar_weight
  from {{ ref('dim_indicator') }}
),

pillar_totals as (
  select catalog_version, pillar_code, max(pillar_weight) as pillar_weight, sum(weight) as total_weight
  from catalog
  group by catalog_version, pillar_code
),

per_pillar as (
  select
    r.unit_code, r.year, t.catalog_version, t.pillar_code, t.pillar_weight, t.total_weight,
    {{ exact_sum('c.weight * s.normalised_score') }} as weighted_sum,
    coalesce({{ exact_sum('c.weight') }}, 0) as observed_weight
  from ranked as r
  cross join pillar_totals as t
  left join scores as s on s.unit_code = r.unit_code and s.year = r.year
  left join catalog as c
    on c.catalog_version = t.catalog_version and c.pillar_code = t.pillar_code
    and c.indicator_code = s.indicator_code
  group by r.unit_code, r.year, t.catalog_version, t.pillar_code, t.pillar_weight, t.total_weight
),

pillars as (
  select
    p.*,
    case when p.observed_weight > 0 and p.observed_weight >= {{ var('min_pillar_coverage') }} * p.total_weight
         then p.weighted_sum / p.observed_weight end as pillar_score
  from per_pillar as p
),

composites as (
  select
    unit_code, year, catalog_version,
    case when sum(case when pillar_score is null then 1 else 0 end) = 0
         then {{ exact_sum('pillar_weight * pillar_score') }} / {{ exact_sum('pillar_weight') }} end as composite
  from pillars
  group by unit_code, year, catalog_version
)

select
  c.unit_code,
  c.year,
  c.catalog_version,
  c.composite,
  100 * c.composite
  / ({{ exact_sum('c.composite', over='partition by c.year, c.catalog_version') }}
     / count(c.composite) over (partition by c.year, c.catalog_version)) as composite_index
from composites as c
