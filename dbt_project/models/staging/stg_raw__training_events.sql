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
    cast(title as string) as title,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(_source_file as string) as _source_file,
    cast(_row_number as bigint) as _row_number
from src
