-- Missing values are carried forward at most one year (from an observed value, never from an imputed one)
-- and flagged; what is still missing stays null.
with vals as (
    select
        v.*,
        lag(v.raw_value) over (
            partition by v.unit_code, v.indicator_code order by v.year nulls last
        ) as prev_raw_value,
        lag(v.year) over (
            partition by v.unit_code, v.indicator_code order by v.year nulls last
        ) as prev_year
    from {{ ref('int_indicator_values') }} as v
)

select
    unit_code,
    peer_group,
    year,
    catalog_version,
    indicator_code,
    raw_value,
    case
        when raw_value is not null then raw_value
        when prev_year = year - 1 then prev_raw_value
    end as value,
    (raw_value is null and prev_year = year - 1 and prev_raw_value is not null) as is_imputed
from vals
