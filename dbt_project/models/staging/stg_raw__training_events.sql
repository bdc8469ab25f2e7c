with src as (
    {{ latest_per_key(source('raw', 'training_events'), ['event_id']) }}
)

select
    cast(src.event_id as string) as event_id,
    -- an old code (unit_code_changes) is read as its unit's current code; the code as sent stays beside it
    {{ current_region_code('src.city_code') }} as region_code,
    cast(src.city_code as string) as region_code_as_sent,
    {{ region_code_note('src.city_code') }} as region_code_note,
    cast(src.event_date as date) as event_date,
    {{ year_of('src.event_date') }} as year,
    cast(src.audience as string) as audience,
    cast(src.participants as bigint) as participants,
    cast(src.hours as double) as hours,
    cast(src.title as string) as title,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(src._source_file as string) as _source_file,
    cast(src._row_number as bigint) as _row_number
from src
{{ current_region_code_join('src.city_code') }}
