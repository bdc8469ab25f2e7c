with src as (
    {{ latest_per_key(source('raw', 'training_events'), ['event_id']) }}
)

select
    cast(event_id as string) as event_id,
    cast(city_code as string) as region_code,
    cast(event_date as date) as event_date,
    {{ year_of('event_date') }} as year,
    cast(audience as string) as audience,
    cast(participants as bigint) as participants,
    cast(hours as double) as hours,
    cast(title as string) as title
from src
