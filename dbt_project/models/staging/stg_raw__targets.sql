-- Construction-plan targets. A target sent under an old code (seed unit_code_changes) or a county code of an old
-- prefecture is the target of the unit of the new code (macro current_region_code, as the statistics it is
-- measured on): without it the target was measured on no data and the city's target part lost it. The code as
-- sent and a note stay beside it; the latest row per current code, plan and indicator wins.
with mapped as (
    select
        src.*,
        {{ current_region_code('src.city_code') }} as current_unit_code,
        {{ region_code_note('src.city_code') }} as unit_code_note
    from {{ source('raw', 'targets') }} as src
    {{ current_region_code_join('src.city_code') }}
),

-- rows of one key loaded at the same instant (the old and the new code of the unit in one file): the one sent
-- under the current code wins, never the order the rows arrive in
src as (
    {{ latest_per_key('mapped', ['current_unit_code', 'plan_id', 'indicator_code'],
        then_by=['(case when unit_code_note is null then 0 else 1 end) asc']) }}
)

select
    cast(current_unit_code as string) as unit_code,
    cast(city_code as string) as unit_code_as_sent,
    cast(unit_code_note as string) as unit_code_note,
    cast(plan_id as string) as plan_id,
    cast(indicator_code as string) as indicator_code,
    cast(baseline_year as integer) as baseline_year,
    cast(baseline_value as double) as baseline_value,
    cast(target_year as integer) as target_year,
    cast(target_value as double) as target_value
from src
