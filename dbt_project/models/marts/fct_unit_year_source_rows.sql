-- The landing files and row numbers behind every unit-year (see int_unit_year_source_rows); the file's load
-- (hash, time, run) is in raw.ingested_files.
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
from {{ ref('int_unit_year_source_rows') }}
