-- Which programme units are evaluated (ranked) in which year, and on which programme's cycle calendar.
-- A unit is evaluated in a year when one of its memberships covers it (int_programme_memberships). When several
-- do (a 2012 demonstration city that joined the 2022 strong-city demonstration), the most recently joined
-- membership governs the year's calendar: the city is judged by the programme it is currently building under.
-- cycle_start / cycle_end: the three-year cycle holding the year on that calendar (null before the first
-- cycle, the baseline years); cycle_baseline_year is the year before the cycle starts (for a unit that joined
-- inside the cycle, the year before it joined: GEN.joined_entry_baseline, below).
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
),

-- Joined inside a cycle: the unit's first governed year of the cycle is after the cycle's first year and the unit
-- was not evaluated the year before (a 2026 joiner of the 2025-2027 round). A unit evaluated that year on another
-- calendar is not a joiner (its cycle is cut short at the start, macro programme_unit_cycles): it was in a
-- programme all along. The management measures evaluate every city every year and give every cycle a third-party
-- evaluation; they are silent on the baseline of a joiner. The office's rule GEN.joined_entry_baseline (rules seed,
-- the version in force in the year it joined): 1 = the cycle comparison starts from the year before it joined,
-- where its own construction starts (before: the cycle's baseline year, a year it was not in the programme, so a
-- fall before it joined could put it in rectification); 0 = the cycle's baseline year.
cycle_entry as (
    select
        g.unit_code,
        g.cycle_start,
        min(g.year) as entry_year
    from governing as g
    where g.cycle_start is not null
    group by g.unit_code, g.cycle_start
),

joiners as (
    select
        e.unit_code,
        e.cycle_start,
        e.entry_year,
        p.gen_joined_entry_baseline
    from cycle_entry as e
    -- the membership governing the entry year joined after the cycle's first year (not a unit whose evaluation
    -- window merely begins inside a cycle)
    inner join governing as entry
        on entry.unit_code = e.unit_code and entry.year = e.entry_year
        and {{ year_of('entry.joined_on') }} > e.cycle_start
    left join governing as before_entry
        on before_entry.unit_code = e.unit_code and before_entry.year = e.entry_year - 1
    left join {{ ref('int_evaluation_params_year') }} as p on p.evaluation_year = e.entry_year
    where e.entry_year > e.cycle_start and before_entry.unit_code is null
)

select
    g.unit_code,
    g.year,
    true as is_evaluated,
    g.programme_code,
    g.cohort,
    g.joined_on,
    g.cycle_anchor_year,
    g.cycle_length,
    g.cycle_start,
    g.cycle_start + g.cycle_length - 1 as cycle_end,
    -- the year the cycle comparison starts from: the year before the cycle, or for a unit that joined inside it
    -- under GEN.joined_entry_baseline = 1 the year before it joined
    case when j.gen_joined_entry_baseline = 1 then j.entry_year - 1 else g.cycle_start - 1 end
        as cycle_baseline_year,
    -- the first year of the cycle the unit was evaluated in, when it joined inside the cycle (null otherwise)
    j.entry_year as joined_cycle_in_year,
    g.acceptance_scored,
    g.withdrawn_year,
    cast(g.n_memberships as integer) as n_memberships
from governing as g
left join joiners as j on j.unit_code = g.unit_code and j.cycle_start = g.cycle_start
