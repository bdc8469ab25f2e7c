with src as (
    {{ latest_per_key(source('raw', 'pledge_loans'), ['city_code', 'month']) }}
)

select
    cast(city_code as string) as region_code,
    cast(month as date) as month,
    {{ year_of('month') }} as year,
    cast(registrations as bigint) as registrations,
    cast(amount_10k_yuan as double) as amount_10k_yuan,
    cast(patents_pledged as bigint) as patents_pledged,
    cast(trademarks_pledged as bigint) as trademarks_pledged,
    cast(enterprises_served as bigint) as enterprises_served,
    cast(first_time_borrowers as bigint) as first_time_borrowers,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(_source_file as string) as _source_file,
    cast(_row_number as bigint) as _row_number
from src
