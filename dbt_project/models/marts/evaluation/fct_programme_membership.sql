-- Every unit's memberships: programme, cohort, joining date, dated exit (withdrawal, promotion), the years it
-- is evaluated under the membership and the membership's cycle calendar. The evaluation reads the calendar
-- per unit and year from fct_programme_unit_year; this table is the roster as the office would read it.
select
    m.unit_code,
    coalesce(u.unit_name, m.unit_name) as unit_name,
    u.province_code,
    u.province_name,
    u.level,
    m.programme_code,
    m.programme as programme_name_zh,
    m.cohort,
    m.cohort_year,
    m.joined_on,
    m.status,
    m.left_on,
    m.exit_reason,
    m.period_start,
    m.period_end,
    m.first_evaluated_year,
    m.last_evaluated_year,
    m.cycle_anchor_year,
    m.cycle_length,
    m.acceptance_scored,
    m.previous_withdrawal_on,
    m.reapply_ban_years,
    m.reapply_ban_until,
    m.reapplied_within_ban,
    m.source_note
from {{ ref('int_programme_memberships') }} as m
left join {{ ref('int_units') }} as u on u.unit_code = m.unit_code
