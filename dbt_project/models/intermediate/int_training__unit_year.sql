-- Training events and participants per unit and year, by audience. Zero-filled for units that appear in the
-- source, in the years the source covers.
with events as (
    select a.unit_code, t.*
    from {{ ref('stg_raw__training_events') }} as t
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = t.region_code
),

covered_years as (
    select distinct year from {{ ref('stg_raw__training_events') }}
),

unit_years as (
    select u.unit_code, y.year
    from (select distinct unit_code from events) as u
    cross join covered_years as y
)

select
    s.unit_code,
    s.year,
    count(e.event_id) as events,
    coalesce(sum(e.participants), 0) as participants,
    coalesce(sum(case when e.audience = 'officials' then e.participants end), 0) as participants_officials,
    coalesce(sum(case when e.audience = 'service_agencies' then e.participants end), 0)
        as participants_service_agencies,
    coalesce(sum(case when e.audience = 'schools' then e.participants end), 0) as participants_schools
from unit_years as s
left join events as e
    on e.unit_code = s.unit_code
    and e.year = s.year
group by s.unit_code, s.year
