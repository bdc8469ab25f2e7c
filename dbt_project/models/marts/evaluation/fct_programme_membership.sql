-- Every unit's memberships: programme, cohort, joining date, dated exit (withdrawal, promotion), the years it
-- is evaluated under the membership and the membership's cycle calendar. The evaluation reads the calendar
-- per unit and year from fct_programme_unit_year; this table is the roster as the office would read it.
-- Re-joined within the re-application ban (management measures: 两年内不得再申报) has ONE definition per kind of
-- exit, and this mart reads both: a withdrawal the roster records (int_programme_memberships), and a title removed
-- at acceptance, which only the acceptance score can tell (fct_acceptance_score: title_removed_on,
-- reapply_ban_until, rejoined_on, rejoined_within_ban). This mart sits in the evaluation step, downstream of the
-- acceptance, and the models upstream of it read the roster from int_programme_memberships: before, the flag here
-- knew withdrawals only, so a city removed at acceptance that joined the next round read "within the ban: no" on
-- the roster while its acceptance row said yes.
with removal as (
    -- EVERY joining of the unit inside the ban of a title removed at acceptance (macro joined_within_removal_ban,
    -- the same test as the acceptance row's rejoined_within_ban): before, only the first joining after the removal
    -- (the acceptance row's rejoined_on) was flagged, so a second joining inside the same ban read "no". Where the
    -- bans of two removals cover a joining, the latest removal names it.
    select unit_code, programme_code, cohort, title_removed_on, reapply_ban_until, reapply_ban_years
    from (
        select
            m.unit_code,
            m.programme_code,
            m.cohort,
            a.title_removed_on,
            a.reapply_ban_until,
            a.reapply_ban_years,
            row_number() over (
                partition by m.unit_code, m.programme_code, m.cohort
                order by a.title_removed_on desc nulls last, a.reapply_ban_until desc nulls last
            ) as removal_rank
        from {{ ref('int_programme_memberships') }} as m
        inner join {{ ref('fct_acceptance_score') }} as a
            on a.unit_code = m.unit_code
            and a.title_removed_on is not null
            and {{ joined_within_removal_ban('m.joined_on', 'a.cycle_last_year', 'a.reapply_ban_until') }}
    ) as ranked
    where removal_rank = 1
)

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
    m.numbers_pilot_rounds,
    m.previous_withdrawal_on,
    -- the exit whose ban this joining breaches: a withdrawal's when it does, else a title removed at acceptance
    case when m.reapplied_within_ban then m.previous_withdrawal_on end as ban_withdrawal_on,
    r.title_removed_on as ban_title_removed_on,
    case
        when m.reapplied_within_ban then 'withdrawn'
        when r.unit_code is not null then 'title_removed'
    end as ban_exit_reason,
    case when m.reapplied_within_ban then m.reapply_ban_years else coalesce(r.reapply_ban_years, m.reapply_ban_years)
    end as reapply_ban_years,
    case when m.reapplied_within_ban then m.reapply_ban_until else coalesce(r.reapply_ban_until, m.reapply_ban_until)
    end as reapply_ban_until,
    m.reapplied_within_ban or r.unit_code is not null as reapplied_within_ban,
    m.source_note
from {{ ref('int_programme_memberships') }} as m
left join {{ ref('int_units') }} as u on u.unit_code = m.unit_code
left join removal as r on r.unit_code = m.unit_code and r.programme_code = m.programme_code and r.cohort = m.cohort
