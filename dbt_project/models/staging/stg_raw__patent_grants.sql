with src as (
    {{ latest_per_key(source('raw', 'patent_grants'), ['publication_number']) }}
)

select
    cast(publication_number as string) as publication_number,
    cast(application_number as string) as application_number,
    cast(patent_type as string) as patent_type,
    cast(kind_code as string) as kind_code,
    cast(application_date as date) as application_date,
    cast(grant_date as date) as grant_date,
    {{ year_of('grant_date') }} as grant_year,
    cast(lapse_date as date) as lapse_date,
    {{ year_of('lapse_date') }} as lapse_year,
    cast(applicant_name as string) as applicant_name,
    cast(applicant_type as string) as applicant_type,
    cast(region_code as string) as region_code,
    cast(ipc_main as string) as ipc_main,
    cast(is_high_value as boolean) as is_high_value,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(_source_file as string) as _source_file,
    cast(_row_number as bigint) as _row_number
from src
