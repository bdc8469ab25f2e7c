-- Which programme units are evaluated (ranked) in which year, and on which programme's cycle calendar.
-- A unit is evaluated in a year when one of its memberships covers it (int_programme_memberships). When several
-- do (a 2012 demonstration city that joined the 2022 strong-city demonstration), the most recently joined
-- membership governs the year's calendar: the city is judged by the programme it is currently building under.
-- cycle_start / cycle_end: the three-year cycle holding the year on that calendar (null before the first
-- cycle, the baseline years); cycle_baseline_year is the year before the cycle starts.
-- withdrawn_year: the year the governing membership was withdrawn in (null when it was not): the cycle verdict
-- "withdrawn" belongs to the cycles of that membership, so a unit that re-applies later keeps it in its history
-- (a unit-level withdrawal year, null once any membership is open again, erased it).
with memberships as (
    select * from {{ ref('int_programme_memberships') }}
),

years as (
    select year from {{ ref('int_evaluation_years') }}
    where peer_group = 'city'
),

covering as (
    select
        m.unit_code,
        y.year,
        m.programme_code,
        m.cohort,
        m.joined_on,
        m.cycle_anchor_year,
        m.cycle_length,
        m.acceptance_scored,
        case when m.exit_reason = 'withdrawn' then {{ year_of('m.left_on') }} end as withdrawn_year,
        count(*) over (partition by m.unit_code, y.year) as n_memberships,
        row_number() over (
            partition by m.unit_code, y.year
            -- total: a roster programme missing from the calendar seed has no programme_code, so its name
            -- (unique per unit and cohort in staging) decides, never the order the rows arrive in
            order by
                m.joined_on desc nulls last, m.programme_code asc nulls last, m.cohort desc nulls last,
                m.programme asc nulls last
        ) as precedence
    from memberships as m
    inner join years as y
        on y.year >= m.first_evaluated_year
        and (m.last_evaluated_year is null or y.year <= m.last_evaluated_year)
),

governing as (
    select
        c.*,
        case when c.year >= c.cycle_anchor_year then
            c.cycle_anchor_year
            + c.cycle_length * cast(floor((c.year - c.cycle_anchor_year) / (c.cycle_length * 1.0)) as integer)
        end as cycle_start
    from covering as c
    where c.precedence = 1
)

select
    unit_code,
    year,
    true as is_evaluated,
    programme_code,
    cohort,
    joined_on,
    cycle_anchor_year,
    cycle_length,
    cycle_start,
    cycle_start + cycle_length - 1 as cycle_end,
    cycle_start - 1 as cycle_baseline_year,
    acceptance_scored,
    withdrawn_year,
    cast(n_memberships as integer) as n_memberships
from governing
