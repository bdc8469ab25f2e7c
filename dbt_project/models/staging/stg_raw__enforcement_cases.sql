with src as (
    {{ latest_per_key(source('raw', 'enforcement_cases'), ['case_id']) }}
)

select
    cast(src.case_id as string) as case_id,
    -- an old code (unit_code_changes) is read as its unit's current code; the code as sent stays beside it
    {{ current_region_code('src.city_code') }} as region_code,
    cast(src.city_code as string) as region_code_as_sent,
    {{ region_code_note('src.city_code') }} as region_code_note,
    cast(src.case_type as string) as case_type,
    cast(src.filed_date as date) as filed_date,
    {{ year_of('src.filed_date') }} as filed_year,
    cast(src.closed_date as date) as closed_date,
    {{ year_of('src.closed_date') }} as closed_year,
    cast(src.resolution as string) as resolution,
    {{ dbt.datediff('src.filed_date', 'src.closed_date', 'day') }}
    as days_to_close,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(src._source_file as string) as _source_file,
    cast(src._row_number as bigint) as _row_number
from src
{{ current_region_code_join('src.city_code') }}
