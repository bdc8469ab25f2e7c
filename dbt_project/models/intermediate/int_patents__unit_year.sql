-- Patent grants and patents in force per unit and year.
-- Records path (patent_grants): a patent is in force on 31 Dec of year Y when it was granted by then and has
-- not lapsed by then: grant_year <= Y and (lapse_date is null or lapse_date > Y-12-31, i.e. lapse_year > Y).
-- Statistics path (patent_stats): for units that only have published totals (the provinces).
-- Counts are zero-filled only for units that appear in the records and for years the records cover.
with grants as (
    select
        a.unit_code,
        g.grant_year,
        g.lapse_year,
        g.patent_type,
        case when g.applicant_type = 'enterprise' then 1 else 0 end as is_enterprise,
        case when g.is_high_value then 1 else 0 end as is_high_value,
        count(*) as n_patents
    from {{ ref('stg_raw__patent_grants') }} as g
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = g.region_code
    group by a.unit_code, g.grant_year, g.lapse_year, g.patent_type,
        case when g.applicant_type = 'enterprise' then 1 else 0 end,
        case when g.is_high_value then 1 else 0 end
),

covered_years as (
    select distinct grant_year as year from {{ ref('stg_raw__patent_grants') }}
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
        'statistics' as patent_basis,
        coalesce(p.grants_total, p.grants_invention + p.grants_utility_model + p.grants_design) as grants_total,
        p.grants_invention,
        cast(null as bigint) as grants_invention_enterprise,
        p.in_force_invention,
        cast(null as bigint) as in_force_invention_high_value
    from {{ ref('stg_raw__patent_stats') }} as p
    inner join {{ ref('int_units') }} as u on u.unit_code = p.region_code
    where p.region_code not in (select r.unit_code from recorded_units as r)
)

select * from records
union all
select * from statistics
