-- The grant records' part of int_unit_year_source_rows: for each unit, grant year and landing file, the rows
-- of the file that feed the unit-year's patent measures, as contiguous ranges. The one lineage model that reads
-- every record, so it is incremental by partition year (macros/incremental_years.sql) like
-- int_patents__grant_cohorts, and reads the raw table's rows of the rebuilt years as they are, for the same
-- reasons (one row per publication number: see int_patents__grant_cohorts, no window needed). A
-- grant's year is its partition year and a file lies in one partition, so every output row belongs to exactly
-- one partition year and is rebuilt with it.
{{ config(**year_incremental_config('partition_year')) }}

with records as (
    select * from {{ source('raw', 'patent_grants') }}
    where {{ in_rebuilt_years('year') }}
),

source_rows as (
    select
        a.unit_code,
        {{ year_of('cast(g.grant_date as date)') }} as year,
        cast(g._source_file as string) as _source_file,
        cast(g._row_number as bigint) as _row_number,
        cast(g.year as integer) as partition_year
    from records as g
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = cast(g.region_code as string)
),

{{ source_row_range_ctes('source_rows', ['partition_year']) }}

select
    unit_code,
    year,
    'patent_grants' as source_name,
    _source_file as source_file,
    {{ source_row_range_columns() }},
    partition_year
from numbered
group by unit_code, year, partition_year, _source_file
