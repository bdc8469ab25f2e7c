with src as (
    {{ latest_per_key(source('raw', 'targets'), ['city_code', 'plan_id', 'indicator_code']) }}
)

select
    cast(city_code as string) as unit_code,
    cast(plan_id as string) as plan_id,
    cast(indicator_code as string) as indicator_code,
    cast(baseline_year as integer) as baseline_year,
    cast(baseline_value as double) as baseline_value,
    cast(target_year as integer) as target_year,
    cast(target_value as double) as target_value
from src
