-- Pillar score of each city unit and year: the weighted arithmetic mean of the normalised scores of the
-- pillar's indicators that have a value, weights re-normalised over those indicators. A pillar whose observed
-- (or carried-forward) weight share is below var('min_pillar_coverage') has no score.
with scores as (
    select unit_code, year, catalog_version, indicator_code, normalised_score
    from {{ ref('int_indicator_scores') }}
    where peer_group = 'city'
),

catalog as (
    select catalog_version, indicator_code, pillar_code, weight, pillar_weight
    from {{ ref('int_indicator_catalog') }}
),

per_pillar as (
    select
        s.unit_code,
        s.year,
        s.catalog_version,
        c.pillar_code,
        max(c.pillar_weight) as pillar_weight,
        sum(case when s.normalised_score is not null then c.weight * s.normalised_score end) as weighted_sum,
        coalesce(sum(case when s.normalised_score is not null then c.weight end), 0) as observed_weight,
        sum(c.weight) as total_weight,
        sum(case when s.normalised_score is not null then 1 else 0 end) as n_indicators_observed,
        count(*) as n_indicators
    from scores as s
    inner join catalog as c
        on c.catalog_version = s.catalog_version
        and c.indicator_code = s.indicator_code
    group by s.unit_code, s.year, s.catalog_version, c.pillar_code
)

select
    unit_code,
    year,
    catalog_version,
    pillar_code,
    pillar_weight,
    {{ safe_divide('observed_weight', 'total_weight') }} as coverage,
    n_indicators_observed,
    n_indicators,
    case
        when observed_weight > 0 and observed_weight >= {{ var('min_pillar_coverage') }} * total_weight
            then weighted_sum / observed_weight
    end as pillar_score
from per_pillar
