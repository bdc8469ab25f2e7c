-- Province roll-up (issue 17; "将考核评价结果作为知识产权强省建设考核评价的重要依据"): per province and year, and per
-- province and cycle, how its programme cities stand — stages (year) or verdicts (cycle), mean and spread of the
-- composite index, the acceptance score where one exists, the share of key targets met and the cities flagged.
-- Flagged = watch, review, rectification or exit_candidate (the stages that ask the province to act).
-- Acceptance scores come from fct_acceptance_score (built in the same evaluation step): the combined score, null
-- while the cycle's third-party evaluation is pending, so a province's mean never mixes in indicator-only scores.
with units as (
    select unit_code, unit_name, province_code, province_name
    from {{ ref('dim_city') }}
    where peer_group = 'city'
),

provinces as (
    select unit_code as province_code, unit_name as province_name
    from {{ ref('dim_city') }}
    where peer_group = 'province'
),

years as (
    select
        e.unit_code,
        u.unit_name,
        u.province_code,
        e.year,
        e.stage,
        s.composite_index
    from {{ ref('fct_evaluation_year') }} as e
    inner join units as u on u.unit_code = e.unit_code
    left join {{ ref('fct_city_score_year') }} as s on s.unit_code = e.unit_code and s.year = e.year
),

cycles as (
    select
        c.unit_code,
        u.unit_name,
        u.province_code,
        c.cycle,
        c.cycle_start,
        c.cycle_end,
        -- a cycle still running has evidence to date, no verdict: it is counted as running (n_cycle_running),
        -- never under a verdict's label beside the judged cycles, and it is not a flagged city of the cycle
        case when c.verdict_status = 'cycle_running' then 'cycle_running' else c.verdict end as stage,
        c.end_index as composite_index
    from {{ ref('fct_evaluation_cycle') }} as c
    inner join units as u on u.unit_code = c.unit_code
),

acceptance as (
    select unit_code, cycle_first_year, cycle_last_year, cast(acceptance_score as double) as acceptance_score
    from {{ ref('fct_acceptance_score') }}
),

key_targets as (
    select
        t.unit_code,
        t.year,
        sum(case when t.status not in ('insufficient_data', 'invalid_target') then 1 else 0 end) as evaluable,
        sum(case when t.status in ('achieved', 'on_track') then 1 else 0 end) as met
    from {{ ref('fct_target_status_year') }} as t
    where t.is_key_target
    group by t.unit_code, t.year
),

year_rows as (
    select
        y.province_code,
        'year' as rollup_level,
        cast(y.year as string) as period_label,
        y.year,
        cast(null as integer) as cycle_start,
        cast(null as integer) as cycle_end,
        y.unit_code,
        y.unit_name,
        y.stage,
        y.composite_index,
        cast(null as double) as acceptance_score,
        kt.evaluable as key_targets_evaluable,
        kt.met as key_targets_met
    from years as y
    left join key_targets as kt on kt.unit_code = y.unit_code and kt.year = y.year
),

cycle_rows as (
    select
        c.province_code,
        'cycle' as rollup_level,
        c.cycle as period_label,
        c.cycle_end as year,
        c.cycle_start,
        c.cycle_end,
        c.unit_code,
        c.unit_name,
        c.stage,
        c.composite_index,
        a.acceptance_score,
        kt.evaluable as key_targets_evaluable,
        kt.met as key_targets_met
    from cycles as c
    left join acceptance as a
        on a.unit_code = c.unit_code and a.cycle_first_year = c.cycle_start and a.cycle_last_year = c.cycle_end
    -- key targets at the cycle's last evaluated year
    left join (
        select unit_code, cycle_start, max(year) as last_year
        from {{ ref('fct_evaluation_year') }}
        where cycle_start is not null
        group by unit_code, cycle_start
    ) as ly on ly.unit_code = c.unit_code and ly.cycle_start = c.cycle_start
    left join key_targets as kt on kt.unit_code = c.unit_code and kt.year = ly.last_year
),

all_rows as (
    select * from year_rows
    union all
    select * from cycle_rows
),

rolled as (
    select
        province_code,
        rollup_level,
        period_label,
        max(year) as year,
        max(cycle_start) as cycle_start,
        max(cycle_end) as cycle_end,
        count(*) as n_cities,
        sum(case when stage = 'normal' then 1 else 0 end) as n_normal,
        sum(case when stage = 'exemplary' then 1 else 0 end) as n_exemplary,
        sum(case when stage = 'watch' then 1 else 0 end) as n_watch,
        sum(case when stage = 'review' then 1 else 0 end) as n_review,
        sum(case when stage = 'rectification' then 1 else 0 end) as n_rectification,
        sum(case when stage = 'exit_candidate' then 1 else 0 end) as n_exit_candidate,
        sum(case when stage = 'not_reported' then 1 else 0 end) as n_not_reported,
        sum(case when stage = 'withdrawn' then 1 else 0 end) as n_withdrawn,
        sum(case when stage = 'cycle_running' then 1 else 0 end) as n_cycle_running,
        count(composite_index) as n_indexed,
        avg(composite_index) as mean_index,
        stddev_samp(composite_index) as sd_index,
        min(composite_index) as min_index,
        max(composite_index) as max_index,
        count(acceptance_score) as n_acceptance_scored,
        avg(acceptance_score) as mean_acceptance_score,
        stddev_samp(acceptance_score) as sd_acceptance_score,
        sum(coalesce(key_targets_evaluable, 0)) as key_targets_evaluable,
        sum(coalesce(key_targets_met, 0)) as key_targets_met,
        sum(case when stage in ('watch', 'review', 'rectification', 'exit_candidate') then 1 else 0 end)
            as n_flagged,
        {{ dbt.listagg(
            "case when stage in ('watch', 'review', 'rectification', 'exit_candidate') then unit_name end",
            "'、'",
            "order by unit_name nulls last") }} as flagged_units
    from all_rows
    group by province_code, rollup_level, period_label
)

select
    r.province_code,
    p.province_name,
    r.rollup_level,
    r.period_label,
    r.year,
    r.cycle_start,
    r.cycle_end,
    cast(r.n_cities as integer) as n_cities,
    cast(r.n_normal as integer) as n_normal,
    cast(r.n_exemplary as integer) as n_exemplary,
    cast(r.n_watch as integer) as n_watch,
    cast(r.n_review as integer) as n_review,
    cast(r.n_rectification as integer) as n_rectification,
    cast(r.n_exit_candidate as integer) as n_exit_candidate,
    cast(r.n_not_reported as integer) as n_not_reported,
    cast(r.n_withdrawn as integer) as n_withdrawn,
    cast(r.n_cycle_running as integer) as n_cycle_running,
    cast(r.n_indexed as integer) as n_indexed,
    r.mean_index,
    r.sd_index,
    r.min_index,
    r.max_index,
    cast(r.n_acceptance_scored as integer) as n_acceptance_scored,
    r.mean_acceptance_score,
    r.sd_acceptance_score,
    cast(r.key_targets_evaluable as integer) as key_targets_evaluable,
    cast(r.key_targets_met as integer) as key_targets_met,
    {{ safe_divide('r.key_targets_met', 'r.key_targets_evaluable') }} as share_key_targets_met,
    cast(r.n_flagged as integer) as n_flagged,
    r.flagged_units
from rolled as r
left join provinces as p on p.province_code = r.province_code
