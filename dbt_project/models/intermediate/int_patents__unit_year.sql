-- Patent grants and patents in force per unit and year.
-- Records path (patent_grants): a patent is in force on 31 Dec of year Y when it was granted by then and has
-- not lapsed by then: grant_year <= Y and (lapse_date is null or lapse_date > Y-12-31, i.e. lapse_year > Y).
-- Statistics path (patent_stats): the published counts of the unit (provinces; cities as offices receive them).
-- Where a unit-year has both, the COUNTS come from the statistics (full volume; the records may be a sample
-- or incomplete) and the record-level SHARES (enterprise share of invention grants, high-value share of the
-- inventions in force) from the records, applied to the statistics' counts. int_patents__records_vs_statistics
-- checks that the two agree. patent_basis says which path each row took.
-- Record counts are zero-filled only for units that appear in the records and for years the records cover.
-- the statistics' count times the records' share, rounded half away from zero on every engine
{%- set statistics_count_times_enterprise_share =
    's.grants_invention * r.grants_invention_enterprise * 1.0 / r.grants_invention' %}
{%- set statistics_count_times_high_value_share =
    's.in_force_invention * r.in_force_invention_high_value * 1.0 / r.in_force_invention' %}
-- The records are read through their cohorts (int_patents__grant_cohorts, incremental by year): the in-force
-- counts of a year need every earlier year's grants, which the small cohort table holds for all years, so this
-- model stays a full table and is recomputed from the cohorts on every run.
with grants as (
    select
        a.unit_code,
        g.grant_year,
        g.lapse_year,
        g.patent_type,
        g.is_enterprise,
        g.is_high_value,
        cast(sum(g.n_patents) as bigint) as n_patents
    from {{ ref('int_patents__grant_cohorts') }} as g
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = g.region_code
    group by a.unit_code, g.grant_year, g.lapse_year, g.patent_type, g.is_enterprise, g.is_high_value
),

covered_years as (
    select distinct grant_year as year from {{ ref('int_patents__grant_cohorts') }}
),

recorded_units as (
    select distinct unit_code from grants
),

unit_years as (
    select u.unit_code, y.year
    from recorded_units as u
    cross join covered_years as y
),

records as (
    select
        s.unit_code,
        s.year,
        'records' as patent_basis,
        coalesce(sum(case when g.grant_year = s.year then g.n_patents end), 0) as grants_total,
        coalesce(sum(case when g.grant_year = s.year and g.patent_type = 'invention' then g.n_patents end), 0)
            as grants_invention,
        coalesce(sum(case when g.grant_year = s.year and g.patent_type = 'invention' and g.is_enterprise = 1
                          then g.n_patents end), 0) as grants_invention_enterprise,
        coalesce(sum(case when g.patent_type = 'invention' and (g.lapse_year is null or g.lapse_year > s.year)
                          then g.n_patents end), 0) as in_force_invention,
        coalesce(sum(case when g.patent_type = 'invention' and g.is_high_value = 1
                               and (g.lapse_year is null or g.lapse_year > s.year)
                          then g.n_patents end), 0) as in_force_invention_high_value
    from unit_years as s
    left join grants as g
        on g.unit_code = s.unit_code
        and g.grant_year <= s.year
    group by s.unit_code, s.year
),

statistics as (
    select
        p.region_code as unit_code,
        p.year,
        coalesce(p.grants_total, p.grants_invention + p.grants_utility_model + p.grants_design) as grants_total,
        p.grants_invention,
        p.in_force_invention
    from {{ ref('stg_raw__patent_stats') }} as p
    inner join {{ ref('int_units') }} as u on u.unit_code = p.region_code
)

select
    coalesce(s.unit_code, r.unit_code) as unit_code,
    coalesce(s.year, r.year) as year,
    case
        when s.unit_code is null then 'records'
        when r.unit_code is null then 'statistics'
        else 'statistics_with_record_shares'
    end as patent_basis,
    case when s.unit_code is null then r.grants_total else s.grants_total end as grants_total,
    case when s.unit_code is null then r.grants_invention else s.grants_invention end as grants_invention,
    case
        when s.unit_code is null then r.grants_invention_enterprise
        when r.unit_code is null or r.grants_invention = 0 then cast(null as bigint)
        else cast({{ round_half_away(statistics_count_times_enterprise_share, 0) }} as bigint)
    end as grants_invention_enterprise,
    case when s.unit_code is null then r.in_force_invention else s.in_force_invention end as in_force_invention,
    case
        when s.unit_code is null then r.in_force_invention_high_value
        when r.unit_code is null or r.in_force_invention = 0 then cast(null as bigint)
        else cast({{ round_half_away(statistics_count_times_high_value_share, 0) }} as bigint)
    end as in_force_invention_high_value
from statistics as s
full outer join records as r
    on r.unit_code = s.unit_code
    and r.year = s.year
