-- One row per programme unit and cycle of its calendar (int_programme_unit_years): the years the calendar gives
-- the cycle and whether the cycle was cut short. A cycle is cut short when another cycle of the unit governs a
-- year inside its span: at its end (宜昌 420500: 2020-2022 holds 2020-2021, then the strong-city 2022-2024
-- governs) or at its start (南京 320100: the demonstration-city 2023-2025 holds only 2025, the strong-city
-- 2022-2024 governed 2023-2024). Such a cycle is never a complete cycle, even when its last year has data: it
-- is one year of three, not a three-year cycle. A unit that simply joined inside the cycle (a 2026 joiner of the
-- 2025-2027 round) is not cut short: no other cycle of its own governs the years it missed.
-- One definition of a cycle's completeness on the calendar, read by fct_evaluation_cycle (is_complete) and
-- fct_third_party_evaluation (cycle_complete).
with calendar as (
    select unit_code, year, programme_code, cycle_start, cycle_end
    from {{ ref('int_programme_unit_years') }}
),

cycles as (
    select
        unit_code,
        cycle_start,
        cycle_end,
        max(programme_code) as programme_code,
        min(year) as first_year,
        max(year) as last_year,
        count(*) as years_on_calendar
    from calendar
    where cycle_start is not null
    group by unit_code, cycle_start, cycle_end
),

taken_over as (
    select c.unit_code, c.cycle_start, c.cycle_end, count(*) as years_of_other_cycles
    from cycles as c
    inner join calendar as o
        on o.unit_code = c.unit_code
        and o.year >= c.cycle_start
        and o.year <= c.cycle_end
        and (o.cycle_start is null or o.cycle_start <> c.cycle_start or o.cycle_end <> c.cycle_end)
    group by c.unit_code, c.cycle_start, c.cycle_end
)

select
    c.unit_code,
    c.cycle_start,
    c.cycle_end,
    c.programme_code,
    c.first_year,
    c.last_year,
    cast(c.years_on_calendar as integer) as years_on_calendar,
    t.unit_code is not null as is_cut_short
from cycles as c
left join taken_over as t
    on t.unit_code = c.unit_code
    and t.cycle_start = c.cycle_start
    and t.cycle_end = c.cycle_end
