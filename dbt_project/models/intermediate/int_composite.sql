-- Composite score of each city unit and year: the pillar-weighted arithmetic mean of the five pillar scores.
-- A unit missing any pillar has no composite (and is not ranked that year).
with pillars as (
    select * from {{ ref('int_pillar_scores') }}
)

select
    unit_code,
    year,
    catalog_version,
    max(case when pillar_code = 'MGT' then pillar_score end) as score_mgt,
    max(case when pillar_code = 'PRO' then pillar_score end) as score_pro,
    max(case when pillar_code = 'UTL' then pillar_score end) as score_utl,
    max(case when pillar_code = 'QLT' then pillar_score end) as score_qlt,
    max(case when pillar_code = 'ENV' then pillar_score end) as score_env,
    sum(pillar_weight * coverage) / sum(pillar_weight) as indicator_coverage,
    case
        when sum(case when pillar_score is null then 1 else 0 end) = 0
            then sum(pillar_weight * pillar_score) / sum(pillar_weight)
    end as composite
from pillars
group by unit_code, year, catalog_version
