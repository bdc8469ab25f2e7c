-- Every programme and cohort with its cycle calendar, how many units the notice designated and how many the
-- roster names. roster_complete is false when public sources name fewer units than the notice designated (the
-- 2022 pilots: 72 designated, 20 named): the unnamed ones are unknown and are never invented.
with calendar as (
    select * from {{ ref('programme_calendar') }}
),

memberships as (
    select programme_code, cohort, count(distinct unit_code) as units_named
    from {{ ref('int_programme_memberships') }}
    group by programme_code, cohort
),

default_anchor as (
    select cast(max(value) as integer) as cycle_anchor_year
    from {{ ref('evaluation_rules') }}
    where rule_code = 'GEN' and param = 'cycle_anchor_year'
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
    coalesce(c.cycle_anchor_year, d.cycle_anchor_year) as cycle_anchor_year,
    c.cycle_length,
    c.acceptance_scored,
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
cross join default_anchor as d
left join memberships as m
    on m.programme_code = c.programme_code
    and m.cohort = c.cohort
