-- One row per roster row (unit x programme x cohort) with its programme's cycle calendar (seed
-- programme_calendar) and the years it is evaluated in. Dated events close a membership:
--   withdrawn: not evaluated from the year of withdrawal on (no date = never evaluated under this row);
--   promoted (pilot -> demonstration): the pilot row is not evaluated from the year of promotion on, the
--   demonstration row takes over from its own joining date.
-- A membership with a fixed period (strong-city cohorts) is evaluated on its calendar years only.
-- Re-application ban (management measures: 撤销称号, 两年内不得再申报; rules seed ACC.reapply_ban_years, read for
-- the year of the exit): a membership joined less than that many years after an earlier withdrawal of the same
-- unit is flagged (reapplied_within_ban), never silently accepted -- the roster may record a joining the measures
-- forbid, and the office must see it. The joining date is after the application, so a joining inside the ban
-- proves an application inside it.
with roster as (
    select * from {{ ref('stg_raw__programme_cities') }}
),

calendar as (
    -- the calendar seed with the demonstration-city defaults (anchor, length) read from the rules seed
    select * from {{ ref('int_programme_calendar') }}
),

dated as (
    select
        r.unit_code,
        r.unit_name,
        c.programme_code,
        r.programme,
        r.cohort,
        r.cohort_year,
        coalesce(r.joined_on, c.period_start,
            cast({{ dbt.concat(["cast(r.cohort_year as string)", "'-01-01'"]) }} as date)) as joined_on,
        r.status,
        r.status_since,
        case
            when r.withdrawn_on is not null then r.withdrawn_on
            when r.status in ('withdrawn', 'promoted') then r.status_since
        end as left_on,
        case
            when r.withdrawn_on is not null or r.status = 'withdrawn' then 'withdrawn'
            when r.status = 'promoted' then 'promoted'
        end as exit_reason,
        c.period_start,
        c.period_end,
        c.first_evaluation_year,
        c.last_evaluation_year,
        c.cycle_anchor_year,
        c.cycle_length,
        c.acceptance_scored,
        c.numbers_pilot_rounds,
        r.source_note
    from roster as r
    left join calendar as c
        on c.programme_name_zh = r.programme
        and c.cohort = r.cohort
),

bounded as (
    select
        d.*,
        case
            when d.first_evaluation_year is not null and d.first_evaluation_year > {{ year_of('d.joined_on') }}
                then d.first_evaluation_year
            else {{ year_of('d.joined_on') }}
        end as first_evaluated_year,
        case
            -- withdrawn or promoted without a date: never evaluated under this row
            when d.exit_reason is not null and d.left_on is null then d.cohort_year - 1
            when d.left_on is not null and d.last_evaluation_year is not null
                and d.last_evaluation_year < {{ year_of('d.left_on') }} - 1 then d.last_evaluation_year
            when d.left_on is not null then {{ year_of('d.left_on') }} - 1
            else d.last_evaluation_year
        end as last_evaluated_year
    from dated as d
),

-- every withdrawal of the same unit (another membership) on or before the joining date, with the ban of the rules
-- in force in the year of that withdrawal
exits as (
    select
        b.unit_code,
        b.programme_code,
        b.cohort,
        b.joined_on,
        e.left_on as withdrawal_on,
        p.acc_reapply_ban_years as reapply_ban_years,
        cast({{ dbt.dateadd('year', 'p.acc_reapply_ban_years', 'e.left_on') }} as date) as reapply_ban_until
    from bounded as b
    inner join bounded as e
        on e.unit_code = b.unit_code
        and e.exit_reason = 'withdrawn'
        and e.left_on is not null
        and e.left_on <= b.joined_on
        and not (e.programme_code = b.programme_code and e.cohort = b.cohort)
    left join {{ ref('int_evaluation_params_year') }} as p
        on p.evaluation_year = {{ year_of('e.left_on') }}
),

-- The exit whose ban the joining is judged against: the latest withdrawal whose ban covers the joining date when
-- one does, else the latest withdrawal (its ban over). Any withdrawal's ban counts, not only the latest's: with a
-- longer ban in an earlier rules version, an earlier withdrawal can still bar a joining the latest one does not.
previous_exit as (
    select unit_code, programme_code, cohort, withdrawal_on, reapply_ban_years, reapply_ban_until
    from (
        select
            x.*,
            row_number() over (
                partition by x.unit_code, x.programme_code, x.cohort
                order by
                    case when x.joined_on < x.reapply_ban_until then 0 else 1 end asc nulls last,
                    x.withdrawal_on desc nulls last,
                    x.reapply_ban_until desc nulls last
            ) as exit_rank
        from exits as x
    ) as ranked
    where exit_rank = 1
),

with_ban as (
    select
        b.*,
        x.withdrawal_on as previous_withdrawal_on,
        x.reapply_ban_years,
        x.reapply_ban_until
    from bounded as b
    left join previous_exit as x
        on x.unit_code = b.unit_code and x.programme_code = b.programme_code and x.cohort = b.cohort
)

select
    unit_code,
    unit_name,
    programme_code,
    programme,
    cohort,
    cohort_year,
    joined_on,
    status,
    left_on,
    exit_reason,
    period_start,
    period_end,
    first_evaluated_year,
    last_evaluated_year,
    cycle_anchor_year,
    cycle_length,
    acceptance_scored,
    -- the programme numbers pilot rounds (seed programme_calendar; false for a roster programme missing there)
    coalesce(numbers_pilot_rounds, false) as numbers_pilot_rounds,
    previous_withdrawal_on,
    reapply_ban_years,
    cast(reapply_ban_until as date) as reapply_ban_until,
    coalesce(joined_on < cast(reapply_ban_until as date), false) as reapplied_within_ban,
    source_note
from with_ban
