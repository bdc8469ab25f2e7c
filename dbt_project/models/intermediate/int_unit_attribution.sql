-- Which units a record's region code counts for: its prefecture-level unit (code[:4] || '00') always, and
-- the code's own unit as well when that is a county-level programme unit.
with codes as (
    -- the grant records' codes from their cohorts: a few thousand rows a year instead of millions
    select region_code from {{ ref('int_patents__grant_cohorts') }}
    union
    select region_code from {{ ref('stg_raw__pledge_loans') }}
    union
    select region_code from {{ ref('stg_raw__enforcement_cases') }}
    union
    select region_code from {{ ref('stg_raw__training_events') }}
),

units as (
    select unit_code, level from {{ ref('int_units') }}
    where peer_group = 'city'
)

select c.region_code, u.unit_code
from codes as c
inner join units as u
    on u.unit_code = {{ prefecture_of('c.region_code') }}
    and u.level <> 'county_level_city'
    and u.level <> 'municipal_district'
union all
select c.region_code, u.unit_code
from codes as c
inner join units as u
    on u.unit_code = c.region_code
    and (u.level = 'county_level_city' or u.level = 'municipal_district')
