{#- One row per programme unit and cycle of its calendar (a relation with unit_code, year, programme_code,
    cycle_start, cycle_end: int_programme_unit_years) with the years the calendar gives the cycle and whether it
    was cut short: another cycle of the unit governs a year inside its span, at its end (宜昌 420500: 2020-2022
    holds 2020-2021, then the strong-city 2022-2024 governs) or at its start (南京 320100: the demonstration-city
    2023-2025 holds only 2025 after the strong-city 2022-2024). Such a cycle is never complete, even when its last
    year has data. A unit that simply joined inside the cycle (a 2026 joiner of the 2025-2027 round) is not cut
    short: no other cycle of its own governed the years it missed.
    A macro, not only the model int_programme_unit_cycles, because the evaluation step and the policy simulator
    rebuild fct_evaluation_cycle on a snapshot, which publishes the calendar (as int_programme_unit_years' mart
    twin) but no intermediate: both read this one definition. Subqueries, not a WITH, so it nests in a CTE on
    every engine. -#}
{% macro programme_unit_cycles(calendar) -%}
select
    c.unit_code,
    c.cycle_start,
    c.cycle_end,
    c.programme_code,
    c.first_year,
    c.last_year,
    cast(c.years_on_calendar as integer) as years_on_calendar,
    t.unit_code is not null as is_cut_short
from (
    select
        unit_code,
        cycle_start,
        cycle_end,
        max(programme_code) as programme_code,
        min(year) as first_year,
        max(year) as last_year,
        count(*) as years_on_calendar
    from {{ calendar }}
    where cycle_start is not null
    group by unit_code, cycle_start, cycle_end
) as c
left join (
    select distinct s.unit_code, s.cycle_start, s.cycle_end
    from {{ calendar }} as s
    inner join {{ calendar }} as o
        on o.unit_code = s.unit_code
        and o.year >= s.cycle_start
        and o.year <= s.cycle_end
        and (o.cycle_start is null or o.cycle_start <> s.cycle_start or o.cycle_end <> s.cycle_end)
    where s.cycle_start is not null
) as t
    on t.unit_code = c.unit_code
    and t.cycle_start = c.cycle_start
    and t.cycle_end = c.cycle_end
{%- endmacro %}

{#- Re-joined within the re-application ban of a title removed at acceptance (management measures: 撤销称号,
    两年内不得再申报): a joining of the unit after the last day of the cycle the acceptance judged and before the
    ban ends (fct_acceptance_score.reapply_ban_until). EVERY such joining is inside the ban, not only the first
    after the removal: fct_acceptance_score names the first (rejoined_on), the roster (fct_programme_membership)
    flags each of its rows with this same test -- before, a second joining inside the same ban read "not within
    the ban" on the roster. -#}
{% macro joined_within_removal_ban(joined_on, cycle_last_year, reapply_ban_until) -%}
    ({{ joined_on }} > cast(concat_ws('', cast({{ cycle_last_year }} as string), '-12-31') as date)
     and {{ joined_on }} < {{ reapply_ban_until }})
{%- endmacro %}
