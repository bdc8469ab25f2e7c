with src as (
    {{ latest_per_key(source('raw', 'patent_stats'), ['region_code', 'year']) }}
),

-- an old code (unit_code_changes) is read as its unit's current code, the code as sent kept beside it
mapped as (
    select
        src.*,
        {{ current_region_code('src.region_code') }} as current_code,
        -- the name of the unit the row now belongs to (the old name stays in the note)
        coalesce(code_change.new_name, cast(src.region_name as string)) as current_name,
        {{ region_code_note('src.region_code') }} as region_code_note
    from src
    {{ current_region_code_join('src.region_code') }}
)

-- A merged city's statistics of a year can come under both codes (莱芜市 and 济南市 before 2019): the unit of the
-- new code is their sum, one row per (code, year) as before. Counts are additive; the lineage names the row of
-- the current code where there is one.
select
    current_code as region_code,
    max(current_name) as region_name,
    cast(year as integer) as year,
    cast(sum(grants_invention) as bigint) as grants_invention,
    cast(sum(grants_utility_model) as bigint) as grants_utility_model,
    cast(sum(grants_design) as bigint) as grants_design,
    cast(sum(grants_total) as bigint) as grants_total,
    cast(sum(in_force_invention) as bigint) as in_force_invention,
    cast(sum(in_force_utility_model) as bigint) as in_force_utility_model,
    cast(sum(in_force_design) as bigint) as in_force_design,
    cast(sum(in_force_total) as bigint) as in_force_total,
    -- the codes as sent (more than one where an old code was merged in) and what the mapping did
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
