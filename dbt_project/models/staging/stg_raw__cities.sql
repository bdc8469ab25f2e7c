with src as (
    {{ latest_per_key(source('raw', 'cities'), ['city_code']) }}
)

select
    cast(city_code as string) as unit_code,
    cast(city_name as string) as unit_name,
    cast(city_name_short as string) as unit_name_short,
    cast(pinyin as string) as pinyin,
    cast(province_code as string) as province_code,
    cast(province_name as string) as province_name,
    cast(level as string) as level,
    cast(parent_code as string) as parent_code,
    cast(lng as double) as lng,
    cast(lat as double) as lat,
    cast(coord_note as string) as coord_note
from src
