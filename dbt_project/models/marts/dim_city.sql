-- Every unit: prefecture-level units, county-level programme units and provinces, with programme facts.
select
    u.unit_code,
    u.unit_name,
    u.unit_name_en,
    u.province_code,
    u.province_name,
    u.level,
    u.parent_code,
    u.lng,
    u.lat,
    u.peer_group,
    (p.unit_code is not null) as is_programme,
    p.programme_cohort_year,
    p.programme_status,
    p.withdrawn_year
from {{ ref('int_units') }} as u
left join {{ ref('int_programme_units') }} as p on p.unit_code = u.unit_code
