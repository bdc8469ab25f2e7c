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

-- The ranked units of each year (they set the mean the index is read against), and the programme units scored in a
-- year they were not ranked: a unit that joined in its cycle's first year (the 2022 strong-city cohort, baseline
-- 2021) has a published baseline index on the same scale (fct_city_score_year) but had no re-weighted one, so its
-- like-for-like change was "–" and R2, X1 and EX1 (GEN.change_like_for_like) fell back to the change the weight
-- switch made: 2021.1 -> 2024.1 lies inside every 2022-2024 cycle of that cohort.
ranked as (
  select s.unit_code, s.year, s.rank is not null as is_ranked
  from {{ ref('fct_city_score_year') }} as s
  where s.rank is not null
    or (s.composite is not null
        and s.unit_code in (
          select d.unit_code from {{ ref('dim_city') }} as d
          where d.is_programme
        ))
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
    r.unit_code, r.year, r.is_ranked, t.catalog_version, t.pillar_code, t.pillar_weight, t.total_weight,
    {{ exact_sum('c.weight * s.normalised_score') }} as weighted_sum,
    coalesce({{ exact_sum('c.weight') }}, 0) as observed_weight
  from ranked as r
  cross join pillar_totals as t
  left join scores as s on s.unit_code = r.unit_code and s.year = r.year
  left join catalog as c
    on c.catalog_version = t.catalog_version and c.pillar_code = t.pillar_code
    and c.indicator_code = s.indicator_code
  group by r.unit_code, r.year, r.is_ranked, t.catalog_version, t.pillar_code, t.pillar_weight, t.total_weight
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
    unit_code, year, is_ranked, catalog_version,
    case when sum(case when pillar_score is null then 1 else 0 end) = 0
         then {{ exact_sum('pillar_weight * pillar_score') }} / {{ exact_sum('pillar_weight') }} end as composite
  from pillars
  group by unit_code, year, is_ranked, catalog_version
),

-- the mean the index is read against: the ranked units' (a unit scored outside the ranking moves no one's index)
with_mean as (
  select
    c.*,
    {{ exact_sum('case when c.is_ranked then c.composite end', over='partition by c.year, c.catalog_version') }}
    / count(case when c.is_ranked then c.composite end) over (partition by c.year, c.catalog_version)
      as ranked_mean_composite
  from composites as c
)

select
  c.unit_code,
  c.year,
  c.catalog_version,
  c.is_ranked,
  c.composite,
  100 * c.composite / c.ranked_mean_composite as composite_index
from with_mean as c
