with src as (
    {{ latest_per_key(source('raw', 'population'), ['region_code', 'year']) }}
)

select
    cast(region_code as string) as region_code,
    cast(year as integer) as year,
    cast(population_10k as double) as population_10k,
    cast(gdp_100m_yuan as double) as gdp_100m_yuan
from src
