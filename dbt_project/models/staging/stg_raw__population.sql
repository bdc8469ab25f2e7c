with src as (
    {{ latest_per_key(source('raw', 'population'), ['region_code', 'year']) }}
)

select
    cast(region_code as string) as region_code,
    cast(year as integer) as year,
    cast(population_10k as double) as population_10k,
    cast(gdp_100m_yuan as double) as gdp_100m_yuan,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(_source_file as string) as _source_file,
    cast(_row_number as bigint) as _row_number
from src
