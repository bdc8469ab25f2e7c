{{ config(materialized='table') }}
-- Per ranked programme unit, year and indicator: the indicator's part of the composite-index change since the
-- previous year, in index points, with both years weighted by THIS year's catalog so that a weight change is
-- not counted here (it is fct_index_change_attribution.part_catalog). The composite is linear in the terms
--   term_i = (pillar_weight_p / sum of pillar weights) x weight_i x score_i / weight present in pillar p
-- (§5: weights renormalised over the indicators present), so the composite change splits exactly into the
-- indicators' term changes; an indicator missing in one year contributes its whole term on the other side.
-- contribution_i = 100 x (term_i,Y - term_i,Y-1) / mean composite of year Y-1 under this year's catalog.
with scores as (
  select unit_code, year, indicator_code, normalised_score
  from {{ ref('fct_city_indicator_year') }}
  where peer_group = 'city' and normalised_score is not null
),

ranked as (
  select unit_code, year, catalog_version
  from {{ ref('fct_city_score_year') }}
  where rank is not null
),

pairs as (
  -- (unit, year Y, catalog of Y) and the previous year Y-1, both ranked, both with a composite under the
  -- catalog of Y (a pillar could fall below its coverage under other weights: then no exact split exists)
  select r.unit_code, r.year, r.catalog_version, p.year as previous_year
  from ranked as r
  inner join ranked as p on p.unit_code = r.unit_code and p.year = r.year - 1
  inner join {{ ref('int_evaluation_index_by_catalog') }} as cc
    on cc.unit_code = r.unit_code and cc.year = r.year and cc.catalog_version = r.catalog_version
  inner join {{ ref('int_evaluation_index_by_catalog') }} as pc
    on pc.unit_code = r.unit_code and pc.year = p.year and pc.catalog_version = r.catalog_version
  where cc.composite is not null and pc.composite is not null
),

catalog as (
  select catalog_version, indicator_code, pillar_code, weight, pillar_weight
  from {{ ref('dim_indicator') }}
),

pillar_sum as (
  select catalog_version, sum(pillar_weight) as pillar_weight_sum
  from (select distinct catalog_version, pillar_code, pillar_weight from catalog) as d
  group by catalog_version
),

-- both years of a pair, each under the catalog of year Y
sides as (
  select unit_code, year, catalog_version, year as score_year, 'current' as side from pairs
  union all
  select unit_code, year, catalog_version, previous_year, 'previous' from pairs
),

present as (
  select s.unit_code, s.year, s.side, c.pillar_code, sum(c.weight) as observed_weight
  from sides as s
  inner join scores as v on v.unit_code = s.unit_code and v.year = s.score_year
  inner join catalog as c on c.catalog_version = s.catalog_version and c.indicator_code = v.indicator_code
  group by s.unit_code, s.year, s.side, c.pillar_code
),

terms as (
  select
    s.unit_code, s.year, s.side, c.indicator_code, c.pillar_code,
    c.pillar_weight / ps.pillar_weight_sum * c.weight * v.normalised_score / pr.observed_weight as term
  from sides as s
  inner join catalog as c on c.catalog_version = s.catalog_version
  inner join pillar_sum as ps on ps.catalog_version = s.catalog_version
  inner join scores as v on v.unit_code = s.unit_code and v.year = s.score_year and v.indicator_code = c.indicator_code
  inner join present as pr on pr.unit_code = s.unit_code and pr.year = s.year and pr.side = s.side
    and pr.pillar_code = c.pillar_code
),

by_indicator as (
  select
    p.unit_code, p.year, p.previous_year, p.catalog_version, c.indicator_code, c.pillar_code,
    coalesce(max(case when t.side = 'current' then t.term end), 0) as term_current,
    coalesce(max(case when t.side = 'previous' then t.term end), 0) as term_previous
  from pairs as p
  inner join catalog as c on c.catalog_version = p.catalog_version
  left join terms as t on t.unit_code = p.unit_code and t.year = p.year and t.indicator_code = c.indicator_code
  group by p.unit_code, p.year, p.previous_year, p.catalog_version, c.indicator_code, c.pillar_code
)

select
  b.unit_code,
  b.year,
  b.previous_year,
  b.catalog_version,
  b.indicator_code,
  b.pillar_code,
  b.term_current,
  b.term_previous,
  100 * (b.term_current - b.term_previous) / m.mean_composite as contribution
from by_indicator as b
inner join (
  select year, catalog_version, avg(composite) as mean_composite
  from {{ ref('int_evaluation_index_by_catalog') }}
  -- the ranked units' mean (the index base): the model also holds programme units scored outside the ranking
  where is_ranked
  group by year, catalog_version
) as m on m.year = b.previous_year and m.catalog_version = b.catalog_version
