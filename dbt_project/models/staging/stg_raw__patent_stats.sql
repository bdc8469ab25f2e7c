with src as (
    {{ latest_per_key(source('raw', 'patent_stats'), ['region_code', 'year']) }}
)

select
    cast(region_code as string) as region_code,
    cast(region_name as string) as region_name,
    cast(year as integer) as year,
    cast(grants_invention as bigint) as grants_invention,
    cast(grants_utility_model as bigint) as grants_utility_model,
    cast(grants_design as bigint) as grants_design,
    cast(grants_total as bigint) as grants_total,
    cast(in_force_invention as bigint) as in_force_invention,
    cast(in_force_utility_model as bigint) as in_force_utility_model,
    cast(in_force_design as bigint) as in_force_design,
    cast(in_force_total as bigint) as in_force_total,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(_source_file as string) as _source_file,
    cast(_row_number as bigint) as _row_number
from src
