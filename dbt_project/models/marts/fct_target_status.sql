-- Latest status of every city target: a FILTER of fct_target_status_year (the one target-status method,
-- seeded thresholds), never a second implementation. Each target's row is the one of the latest year of its
-- plan period that the data reach; a target with no year in reach yet (no indicator rows after its baseline)
-- is kept as insufficient_data. The singular test assert_target_status_is_latest_year checks both.
with targets as (
    select distinct
        unit_code, plan_id, indicator_code, baseline_year, baseline_value, target_year, target_value
    from {{ ref('stg_raw__targets') }}
),

yearly as (
    select
        *,
        row_number() over (
            partition by unit_code, plan_id, indicator_code order by year desc nulls last
        ) as recency
    from {{ ref('fct_target_status_year') }}
)

select
    t.unit_code,
    t.plan_id,
    t.indicator_code,
    t.baseline_year,
    t.baseline_value,
    t.target_year,
    t.target_value,
    y.year as status_year,
    y.current_year,
    y.current_value,
    y.is_key_target,
    y.progress_index,
    y.growth_ratio,
    y.growth_basis,
    coalesce(y.status, 'insufficient_data') as status,
    y.projected_value,
    y.rules_version
from targets as t
left join yearly as y
    on
        y.unit_code = t.unit_code
        and y.plan_id = t.plan_id
        and y.indicator_code = t.indicator_code
        and y.recency = 1
