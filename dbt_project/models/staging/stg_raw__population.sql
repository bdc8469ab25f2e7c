with src as (
    {{ latest_per_key(source('raw', 'population'), ['region_code', 'year']) }}
),

-- an old code (unit_code_changes) is read as its unit's current code, the code as sent kept beside it
mapped as (
    select
        src.*,
        {{ current_region_code('src.region_code') }} as current_code,
        {{ region_code_note('src.region_code') }} as region_code_note
    from src
    {{ current_region_code_join('src.region_code') }}
)

-- A merged city's figures of a year can come under both codes: population and GDP add up to the new unit's.
select
    current_code as region_code,
    cast(year as integer) as year,
    cast(sum(population_10k) as double) as population_10k,
    cast(sum(gdp_100m_yuan) as double) as gdp_100m_yuan,
    case
        when min(region_code) = max(region_code) then cast(min(region_code) as string)
        else concat_ws(',', cast(min(region_code) as string), cast(max(region_code) as string))
    end as region_code_as_sent,
    max(region_code_note) as region_code_note,
    -- lineage: the landing file and its row (raw.ingested_files is the ledger of files)
    cast(min(_source_file) as string) as _source_file,
    cast(min(_row_number) as bigint) as _row_number
from mapped
group by current_code, year
