-- Reconciliation of the grant records with the published city statistics, per prefecture-level unit and year.
-- The records either are the full export (sampling fraction 1) or a sample of it (the bundled sample: rate
-- `scale`); either way every unit's record count must be its statistics count times the year's fraction,
-- within sampling noise. A unit-year is a 'mismatch' when the difference is beyond 6 binomial standard
-- deviations AND more than 2 % of the expected count (the second condition is what bites on full exports),
-- or when the records hold more grants than the statistics. County-level units are left out: part of their
-- records carry the prefecture's code, so their own-code counts are below their statistics by design.
with records as (
    select
        {{ prefecture_of('region_code') }} as unit_code,
        grant_year as year,
        cast(sum(n_patents) as bigint) as records_grants
    -- the grant records counted through their cohorts (int_patents__grant_cohorts: one row per cohort)
    from {{ ref('int_patents__grant_cohorts') }}
    group by {{ prefecture_of('region_code') }}, grant_year
),

statistics as (
    select
        p.region_code as unit_code,
        p.year,
        coalesce(p.grants_total, p.grants_invention + p.grants_utility_model + p.grants_design) as statistics_grants
    from {{ ref('stg_raw__patent_stats') }} as p
    inner join {{ ref('int_units') }} as u
        on u.unit_code = p.region_code
        and u.peer_group = 'city'
        and u.level <> 'county_level_city'
        and u.level <> 'municipal_district'
),

paired as (
    select
        s.unit_code,
        s.year,
        s.statistics_grants,
        coalesce(r.records_grants, 0) as records_grants
    from statistics as s
    inner join (select distinct year from records) as covered on covered.year = s.year
    left join records as r on r.unit_code = s.unit_code and r.year = s.year
),

fractions as (
    select
        year,
        case when sum(statistics_grants) > 0
             then least(sum(records_grants) * 1.0 / sum(statistics_grants), 1.0) end as sampling_fraction
    from paired
    group by year
),

scored as (
    select
        p.unit_code,
        p.year,
        p.statistics_grants,
        p.records_grants,
        f.sampling_fraction,
        p.statistics_grants * f.sampling_fraction as expected_records,
        (p.records_grants - p.statistics_grants * f.sampling_fraction)
        / sqrt(greatest(p.statistics_grants * f.sampling_fraction * (1 - f.sampling_fraction), 1.0)) as z_score
    from paired as p
    inner join fractions as f on f.year = p.year
)

select
    unit_code,
    year,
    statistics_grants,
    records_grants,
    sampling_fraction,
    expected_records,
    z_score,
    case
        when records_grants > statistics_grants then 'mismatch'
        when abs(z_score) > 6 and abs(records_grants - expected_records) > 0.02 * expected_records then 'mismatch'
        else 'ok'
    end as reconciliation_status
from scored
