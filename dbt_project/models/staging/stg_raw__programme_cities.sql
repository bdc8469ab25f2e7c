-- The programme roster. A city listed under an old code (seed unit_code_changes: a 地区 made a 地级市, a merged
-- city), or under a county code of an old prefecture, is the unit of the new code, as every statistics source
-- reads it (macro current_region_code): without it the member matched no unit of the current divisions, had no
-- score and was judged on nothing. The code as sent and a note stay beside it. The latest row per CURRENT code,
-- programme and cohort wins, so a roster re-sent under the new code replaces the old-code row, not doubles it.
with mapped as (
    select
        src.*,
        {{ current_region_code('src.city_code') }} as current_unit_code,
        {{ region_code_note('src.city_code') }} as unit_code_note
    from {{ source('raw', 'programme_cities') }} as src
    {{ current_region_code_join('src.city_code') }}
),

-- rows of one key loaded at the same instant (the old and the new code of the unit in one file): the one sent
-- under the current code wins, never the order the rows arrive in
src as (
    {{ latest_per_key('mapped', ['current_unit_code', 'programme', 'cohort'],
        then_by=['(case when unit_code_note is null then 0 else 1 end) asc']) }}
)

select
    cast(current_unit_code as string) as unit_code,
    cast(city_code as string) as unit_code_as_sent,
    cast(unit_code_note as string) as unit_code_note,
    cast(unit_name as string) as unit_name,
    cast(programme as string) as programme,
    cast(cohort as string) as cohort,
    cast(cohort_year as integer) as cohort_year,
    cast(status as string) as status,
    cast(status_since as date) as status_since,
    cast(withdrawn_on as date) as withdrawn_on,
    cast(source as string) as source_note,
    cast(joined_on as date) as joined_on
from src
