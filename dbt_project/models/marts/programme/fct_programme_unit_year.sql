-- The evaluation calendar: one row per programme unit and evaluated year with the programme whose calendar
-- governs the year (the most recently joined covering membership) and the cycle holding the year. This is the
-- table the evaluation reads its cycles from (docs/methodology.md "Programmes, cohorts and cycle calendars").
select
    y.unit_code,
    u.unit_name,
    u.province_code,
    y.year,
    y.programme_code,
    y.cohort,
    y.joined_on,
    y.cycle_anchor_year,
    y.cycle_length,
    y.cycle_start,
    y.cycle_end,
    y.cycle_baseline_year,
    y.joined_cycle_in_year,
    case when y.cycle_start is not null
        then {{ year_range('y.cycle_start', 'y.cycle_end') }}
    end as cycle,
    y.acceptance_scored,
    y.withdrawn_year,
    y.n_memberships
from {{ ref('int_programme_unit_years') }} as y
left join {{ ref('int_units') }} as u on u.unit_code = y.unit_code
