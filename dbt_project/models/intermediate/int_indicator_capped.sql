-- Outliers: per indicator and year, over the units of the peer group that have a value, a value beyond
-- mean +/- 2 SD (sample SD) is an outlier and is capped at the nearest non-outlier value of that year.
with vals as (
    select * from {{ ref('int_indicator_imputed') }}
),

moments as (
    select
        peer_group,
        indicator_code,
        year,
        avg(value) as mean_value,
        stddev_samp(value) as sd_value
    from vals
    where value is not null
    group by peer_group, indicator_code, year
),

flagged as (
    select
        v.*,
        coalesce(
            v.value is not null
            and m.sd_value > 0
            and (v.value > m.mean_value + 2 * m.sd_value or v.value < m.mean_value - 2 * m.sd_value),
            false
        ) as is_outlier
    from vals as v
    left join moments as m
        on m.peer_group = v.peer_group
        and m.indicator_code = v.indicator_code
        and m.year = v.year
),

fences as (
    select
        peer_group,
        indicator_code,
        year,
        min(value) as lowest_inlier,
        max(value) as highest_inlier
    from flagged
    where value is not null and not is_outlier
    group by peer_group, indicator_code, year
)

select
    f.unit_code,
    f.peer_group,
    f.year,
    f.catalog_version,
    f.indicator_code,
    f.raw_value,
    f.value,
    f.is_imputed,
    f.is_outlier,
    case
        when f.value is null then null
        when f.value > b.highest_inlier then b.highest_inlier
        when f.value < b.lowest_inlier then b.lowest_inlier
        else f.value
    end as capped_value
from flagged as f
left join fences as b
    on b.peer_group = f.peer_group
    and b.indicator_code = f.indicator_code
    and b.year = f.year
