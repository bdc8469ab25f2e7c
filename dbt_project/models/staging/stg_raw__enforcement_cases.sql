with src as (
    {{ latest_per_key(source('raw', 'enforcement_cases'), ['case_id']) }}
)

select
    cast(case_id as string) as case_id,
    cast(city_code as string) as region_code,
    cast(case_type as string) as case_type,
    cast(filed_date as date) as filed_date,
    {{ year_of('filed_date') }} as filed_year,
    cast(closed_date as date) as closed_date,
    {{ year_of('closed_date') }} as closed_year,
    cast(resolution as string) as resolution,
    {{ dbt.datediff('filed_date', 'closed_date', 'day') }}
    as days_to_close,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(_source_file as string) as _source_file,
    cast(_row_number as bigint) as _row_number
from src
