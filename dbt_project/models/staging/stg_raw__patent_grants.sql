with src as (
    {{ latest_per_key(source('raw', 'patent_grants'), ['publication_number']) }}
)

select
    cast(src.publication_number as string) as publication_number,
    cast(src.application_number as string) as application_number,
    cast(src.patent_type as string) as patent_type,
    cast(src.kind_code as string) as kind_code,
    cast(src.application_date as date) as application_date,
    cast(src.grant_date as date) as grant_date,
    {{ year_of('src.grant_date') }} as grant_year,
    cast(src.lapse_date as date) as lapse_date,
    {{ year_of('src.lapse_date') }} as lapse_year,
    cast(src.applicant_name as string) as applicant_name,
    cast(src.applicant_type as string) as applicant_type,
    -- an old code (unit_code_changes) is read as its unit's current code; the code as sent stays beside it
    {{ current_region_code('src.region_code') }} as region_code,
    cast(src.region_code as string) as region_code_as_sent,
    {{ region_code_note('src.region_code') }} as region_code_note,
    cast(src.ipc_main as string) as ipc_main,
    cast(src.is_high_value as boolean) as is_high_value,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(src._source_file as string) as _source_file,
    cast(src._row_number as bigint) as _row_number
from src
{{ current_region_code_join('src.region_code') }}
