with src as (
    {{ latest_per_key(source('raw', 'pledge_loans'), ['city_code', 'month']) }}
)

select
    -- an old code (unit_code_changes) is read as its unit's current code; the code as sent stays beside it
    {{ current_region_code('src.city_code') }} as region_code,
    cast(src.city_code as string) as region_code_as_sent,
    {{ region_code_note('src.city_code') }} as region_code_note,
    cast(src.month as date) as month,
    {{ year_of('src.month') }} as year,
    cast(src.registrations as bigint) as registrations,
    cast(src.amount_10k_yuan as double) as amount_10k_yuan,
    cast(src.patents_pledged as bigint) as patents_pledged,
    cast(src.trademarks_pledged as bigint) as trademarks_pledged,
    cast(src.enterprises_served as bigint) as enterprises_served,
    cast(src.first_time_borrowers as bigint) as first_time_borrowers,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(src._source_file as string) as _source_file,
    cast(src._row_number as bigint) as _row_number
from src
{{ current_region_code_join('src.city_code') }}
