-- Progress of every city target (raw.targets) towards its target value; docs/methodology.md §7.
-- current value: the latest observed (not carried-forward) value in a year <= the target year.
-- progress_index: share of the baseline-to-target gap closed, capped at 1 (direction-aware through the sign
--   of the gap). growth_ratio: observed / required compound annual growth rate (linear pace when a value is
--   0, where a compound rate is undefined). status from growth_ratio with the 0.95 / 0.60 / 0 thresholds.
with targets as (
    select * from {{ ref('stg_raw__targets') }}
),

directions as (
    select indicator_code, max(direction) as direction
    from {{ ref('dim_indicator') }}
    group by indicator_code
),

observed as (
    select unit_code, indicator_code, year, raw_value
    from {{ ref('fct_city_indicator_year') }}
    where raw_value is not null
),

latest as (
    select t.unit_code, t.plan_id, t.indicator_code, max(o.year) as current_year
    from targets as t
    inner join observed as o
        on o.unit_code = t.unit_code
        and o.indicator_code = t.indicator_code
        and o.year <= t.target_year
    group by t.unit_code, t.plan_id, t.indicator_code
),

joined as (
    select
        t.*,
        case when d.direction = 'lower' then -1.0 else 1.0 end as sign,
        l.current_year,
        o.raw_value as current_value
    from targets as t
    left join directions as d on d.indicator_code = t.indicator_code
    left join latest as l
        on l.unit_code = t.unit_code and l.plan_id = t.plan_id and l.indicator_code = t.indicator_code
    left join observed as o
        on o.unit_code = t.unit_code and o.indicator_code = t.indicator_code and o.year = l.current_year
),

assessable as (
    select
        j.*,
        (j.current_value is not null and j.current_year > j.baseline_year) as has_progress,
        (j.current_value is not null and j.sign * (j.current_value - j.target_value) >= 0) as meets_target,
        (j.sign * (j.target_value - j.baseline_value) > 0 and j.target_year > j.baseline_year) as has_gap,
        (j.baseline_value > 0 and j.current_value > 0 and j.target_value > 0) as can_compound
    from joined as j
),

rates as (
    select
        a.*,
        case when a.has_progress and a.has_gap and a.can_compound then
            power(a.current_value / a.baseline_value, 1.0 / cast(a.current_year - a.baseline_year as double)) - 1
        end as observed_cagr,
        case when a.has_progress and a.has_gap and a.can_compound then
            power(a.target_value / a.baseline_value, 1.0 / cast(a.target_year - a.baseline_year as double)) - 1
        end as required_cagr,
        case when a.has_progress and a.has_gap then
            (a.current_value - a.baseline_value) / cast(a.current_year - a.baseline_year as double)
        end as observed_slope,
        case when a.has_progress and a.has_gap then
            (a.target_value - a.baseline_value) / cast(a.target_year - a.baseline_year as double)
        end as required_slope
    from assessable as a
),

measured as (
    select
        r.*,
        case
            when r.has_progress and r.has_gap then
                least(1.0, (r.current_value - r.baseline_value) / (r.target_value - r.baseline_value))
            when r.has_progress and r.meets_target then 1.0
        end as progress_index,
        case
            when r.required_cagr is not null and r.required_cagr <> 0 then r.observed_cagr / r.required_cagr
            when r.required_slope is not null and r.required_slope <> 0 then r.observed_slope / r.required_slope
        end as growth_ratio,
        case
            when r.required_cagr is not null and r.required_cagr <> 0 then 'cagr'
            when r.required_slope is not null and r.required_slope <> 0 then 'linear'
        end as growth_basis
    from rates as r
)

select
    unit_code,
    plan_id,
    indicator_code,
    baseline_year,
    baseline_value,
    target_year,
    target_value,
    current_year,
    current_value,
    progress_index,
    growth_ratio,
    growth_basis,
    case
        when not has_progress then 'insufficient_data'
        when meets_target then 'achieved'
        -- the baseline already met the target and the unit has since fallen short of it
        when not has_gap then 'deteriorating'
        when growth_ratio is null then 'insufficient_data'
        when growth_ratio >= 0.95 then 'on_track'
        when growth_ratio >= 0.60 then 'acceleration_needed'
        when growth_ratio >= 0 then 'limited_progress'
        else 'deteriorating'
    end as status,
    case
        when not has_progress then null
        when current_year >= target_year then current_value
        when growth_basis = 'cagr' then
            current_value * power(1 + observed_cagr, cast(target_year - current_year as double))
        when growth_basis = 'linear' then
            current_value + observed_slope * cast(target_year - current_year as double)
    end as projected_value
from measured
