-- One row per unit x year x indicator of the year's catalog: raw value, value after carry-forward, flags and
-- the normalised score (0-100, higher is better whatever the indicator's direction).
-- After outlier capping (int_indicator_capped): a square-root transform when the indicator's skewness over
-- the peer group and the whole evaluation window exceeds 1, then min-max normalisation with min and max
-- fixed over the whole window, so that a score means the same in every year.
with capped as (
    select * from {{ ref('int_indicator_capped') }}
),

directions as (
    select catalog_version, indicator_code, direction
    from {{ ref('int_indicator_catalog') }}
),

window_mean as (
    select peer_group, indicator_code, avg(capped_value) as mean_value
    from capped
    where capped_value is not null
    group by peer_group, indicator_code
),

skewness as (
    select
        c.peer_group,
        c.indicator_code,
        -- population skewness g1 = m3 / m2^1.5
        case when avg(power(c.capped_value - m.mean_value, 2)) > 0
             then avg(power(c.capped_value - m.mean_value, 3))
                  / power(avg(power(c.capped_value - m.mean_value, 2)), 1.5)
        end as skewness
    from capped as c
    inner join window_mean as m
        on m.peer_group = c.peer_group and m.indicator_code = c.indicator_code
    where c.capped_value is not null
    group by c.peer_group, c.indicator_code
),

transformed as (
    select
        c.*,
        coalesce(s.skewness > 1, false) as is_sqrt_transformed,
        case when s.skewness > 1 then {{ signed_sqrt('c.capped_value') }} else c.capped_value end
            as transformed_value
    from capped as c
    left join skewness as s
        on s.peer_group = c.peer_group and s.indicator_code = c.indicator_code
),

bounds as (
    select peer_group, indicator_code, min(transformed_value) as min_value, max(transformed_value) as max_value
    from transformed
    where transformed_value is not null
    group by peer_group, indicator_code
)

select
    t.unit_code,
    t.year,
    t.indicator_code,
    t.catalog_version,
    t.peer_group,
    t.raw_value,
    t.value,
    coalesce(t.is_imputed, false) as is_imputed,
    t.is_outlier,
    (t.value is null) as is_missing,
    t.capped_value,
    t.is_sqrt_transformed,
    t.transformed_value,
    case
        when t.transformed_value is null then null
        -- no spread over the whole window: every unit sits at the middle of the scale
        when b.max_value = b.min_value then 50.0
        when d.direction = 'lower' then 100.0 * ((b.max_value - t.transformed_value) / (b.max_value - b.min_value))
        else 100.0 * ((t.transformed_value - b.min_value) / (b.max_value - b.min_value))
    end as normalised_score
from transformed as t
inner join directions as d
    on d.catalog_version = t.catalog_version
    and d.indicator_code = t.indicator_code
left join bounds as b
    on b.peer_group = t.peer_group
    and b.indicator_code = t.indicator_code
