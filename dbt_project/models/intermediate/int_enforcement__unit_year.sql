-- Enforcement caseload per unit and year. Counts are zero-filled for units that appear in the source, in the
-- years the source covers; the official closure rate divides the cases closed in the year by the caseload of
-- the year (filed in the year plus pending on 1 January).
with cases as (
    select a.unit_code, c.*
    from {{ ref('stg_raw__enforcement_cases') }} as c
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = c.region_code
),

covered_years as (
    select distinct filed_year as year from {{ ref('stg_raw__enforcement_cases') }}
),

unit_years as (
    select u.unit_code, y.year
    from (select distinct unit_code from cases) as u
    cross join covered_years as y
)

select
    s.unit_code,
    s.year,
    coalesce(sum(case when c.filed_year = s.year then 1 end), 0) as cases_filed,
    coalesce(sum(case when c.closed_year = s.year then 1 end), 0) as cases_closed,
    coalesce(sum(case when c.filed_year < s.year and (c.closed_date is null or c.closed_year >= s.year)
                      then 1 end), 0) as cases_pending_at_start,
    coalesce(sum(case when c.closed_year = s.year and c.resolution = 'mediation' then 1 end), 0)
        as cases_closed_by_mediation,
    {{ median_of('case when c.closed_year = s.year then c.days_to_close end') }} as median_days_to_close
from unit_years as s
left join cases as c
    on c.unit_code = s.unit_code
    and c.filed_year <= s.year
group by s.unit_code, s.year
