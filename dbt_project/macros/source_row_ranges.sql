{#- The lineage of unit-years as row ranges, written once for both lineage models (int_unit_year_source_rows and
    its incremental grants part int_patents__unit_year_source_rows). `rows` is a CTE with unit_code, year,
    _source_file, _row_number and the further `keys`; source_row_range_ctes() turns it into contiguous ranges
    of row numbers (gaps-and-islands) numbered per key, and source_row_range_columns() aggregates them per
    key in the model's final select from `numbered`. -#}
{% macro source_row_range_ctes(rows, keys) %}
{%- set key_list = (['unit_code', 'year'] + keys + ['_source_file']) | join(', ') -%}
islands as (
    select
        {{ key_list }},
        _row_number,
        _row_number - row_number() over (
            partition by {{ key_list }} order by _row_number asc nulls last
        ) as island
    from {{ rows }}
),

ranges as (
    select
        {{ key_list }},
        min(_row_number) as first_row,
        max(_row_number) as last_row,
        count(*) as n_rows
    from islands
    group by {{ key_list }}, island
),

numbered as (
    select
        r.*,
        row_number() over (
            partition by {% for k in ['unit_code', 'year'] + keys + ['_source_file'] %}r.{{ k }}{{ ", " if not loop.last }}{% endfor %}
            order by r.first_row asc nulls last
        ) as range_number,
        case
            when r.first_row = r.last_row then cast(r.first_row as string)
            else {{ dbt.concat(["cast(r.first_row as string)", "'-'", "cast(r.last_row as string)"]) }}
        end as range_text
    from ranges as r
)
{% endmacro %}

{% macro source_row_range_columns() %}
    cast(sum(n_rows) as bigint) as n_rows,
    min(first_row) as first_row_number,
    max(last_row) as last_row_number,
    count(*) as n_row_ranges,
    -- the first 50 ranges, enough to open the file at the right rows; n_row_ranges says whether that is all
    {{ dbt.listagg(
        "case when range_number <= 50 then range_text end", "', '", "order by range_number asc nulls last"
    ) }}
        as row_ranges
{%- endmacro %}
