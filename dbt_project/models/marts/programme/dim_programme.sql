-- Every programme and cohort with its cycle calendar, how many units the notice designated and how many the
-- roster names. roster_complete is false when public sources name fewer units than the notice designated (the
-- 2022 pilots: 72 designated, 20 named): the unnamed ones are unknown and are never invented.
with calendar as (
    -- the calendar seed with the demonstration-city defaults (anchor, length) read from the rules seed
    select * from {{ ref('int_programme_calendar') }}
),

memberships as (
    select programme_code, cohort, count(distinct unit_code) as units_named
    from {{ ref('int_programme_memberships') }}
    group by programme_code, cohort
)

select
    c.programme_code,
    c.cohort,
    c.programme_name_zh,
    c.programme_name_en,
    c.period_start,
    c.period_end,
    c.first_evaluation_year,
    c.last_evaluation_year,
    c.cycle_anchor_year,
    c.cycle_length,
    c.acceptance_scored,
    c.numbers_pilot_rounds,
    c.units_announced,
    cast(coalesce(m.units_named, 0) as integer) as units_named,
    case
        when c.units_announced is null then cast(null as boolean)
        else coalesce(m.units_named, 0) >= c.units_announced
    end as roster_complete,
    c.notice,
    c.calendar_note_en,
    c.calendar_note_zh
from calendar as c
left join memberships as m
    on m.programme_code = c.programme_code
    and m.cohort = c.cohort
