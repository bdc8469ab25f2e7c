-- Where the inputs of every unit-year come from: for each unit, year, source and landing file, the staged rows
-- that feed the unit-year's measures (the row numbers of the file as loaded, in contiguous ranges). Rows of
-- the year: records dated in it (enforcement cases filed or closed in it), the year's statistics.
with source_rows as (
    select a.unit_code, p.year, 'pledge_loans' as source_name, p._source_file, p._row_number
    from {{ ref('stg_raw__pledge_loans') }} as p
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = p.region_code
    union all
    select a.unit_code, t.year, 'training_events' as source_name, t._source_file, t._row_number
    from {{ ref('stg_raw__training_events') }} as t
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = t.region_code
    union all
    select a.unit_code, c.filed_year as year, 'enforcement_cases' as source_name, c._source_file, c._row_number
    from {{ ref('stg_raw__enforcement_cases') }} as c
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = c.region_code
    union all
    select a.unit_code, c.closed_year as year, 'enforcement_cases' as source_name, c._source_file, c._row_number
    from {{ ref('stg_raw__enforcement_cases') }} as c
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = c.region_code
    where c.closed_year is not null and c.closed_year <> c.filed_year
    union all
    select s.region_code as unit_code, s.year, 'patent_stats' as source_name, s._source_file, s._row_number
    from {{ ref('stg_raw__patent_stats') }} as s
    union all
    select p.region_code as unit_code, p.year, 'population' as source_name, p._source_file, p._row_number
    from {{ ref('stg_raw__population') }} as p
),

{{ source_row_range_ctes('source_rows', ['source_name']) }}

select
    unit_code,
    year,
    source_name,
    _source_file as source_file,
    {{ source_row_range_columns() }}
from numbered
group by unit_code, year, source_name, _source_file

union all

select
    unit_code,
    year,
    source_name,
    source_file,
    n_rows,
    first_row_number,
    last_row_number,
    n_row_ranges,
    row_ranges
from {{ ref('int_patents__unit_year_source_rows') }}
