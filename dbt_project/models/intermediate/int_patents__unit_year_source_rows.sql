-- The grant records' part of int_unit_year_source_rows: for each unit, grant year and landing file, the rows
-- of the file that feed the unit-year's patent measures, as contiguous ranges. The one lineage model that reads
-- every record, so it is incremental by partition year (macros/incremental_years.sql) like
-- int_patents__grant_cohorts, and reads the raw table with the same latest_per_key for the same reason. A
-- grant's year is its partition year and a file lies in one partition, so every output row belongs to exactly
-- one partition year and is rebuilt with it.
{{ config(**year_incremental_config('partition_year')) }}

with latest as (
    {{ latest_per_key(source('raw', 'patent_grants'), ['publication_number'], where=in_rebuilt_years('year')) }}
),

source_rows as (
    select
        a.unit_code,
        {{ year_of('cast(g.grant_date as date)') }} as year,
        cast(g._source_file as string) as _source_file,
        cast(g._row_number as bigint) as _row_number,
        cast(g.year as integer) as partition_year
    from latest as g
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = cast(g.region_code as string)
),

islands as (
    select
        unit_code,
        year,
        partition_year,
        _source_file,
        _row_number,
        _row_number - row_number() over (
            partition by unit_code, year, partition_year, _source_file order by _row_number asc nulls last
        ) as island
    from source_rows
),

ranges as (
    select
        unit_code,
        year,
        partition_year,
        _source_file,
        min(_row_number) as first_row,
        max(_row_number) as last_row,
        count(*) as n_rows
    from islands
    group by unit_code, year, partition_year, _source_file, island
),

numbered as (
    select
        r.*,
        row_number() over (
            partition by r.unit_code, r.year, r.partition_year, r._source_file order by r.first_row asc nulls last
        ) as range_number,
        case
            when r.first_row = r.last_row then cast(r.first_row as string)
            else {{ dbt.concat(["cast(r.first_row as string)", "'-'", "cast(r.last_row as string)"]) }}
        end as range_text
    from ranges as r
)

select
    unit_code,
    year,
    'patent_grants' as source_name,
    _source_file as source_file,
    cast(sum(n_rows) as bigint) as n_rows,
    min(first_row) as first_row_number,
    max(last_row) as last_row_number,
    count(*) as n_row_ranges,
    -- the first 50 ranges, enough to open the file at the right rows; n_row_ranges says whether that is all
    {{ dbt.listagg(
        "case when range_number <= 50 then range_text end", "', '", "order by range_number asc nulls last"
    ) }}
        as row_ranges,
    partition_year
from numbered
group by unit_code, year, partition_year, _source_file
