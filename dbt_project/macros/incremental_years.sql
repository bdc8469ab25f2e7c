{#- Models incremental by data year (docs/incremental.md). The pipeline (pipelines/incremental.py) compares the
    raw layer with what the last successful build read and passes either --full-refresh (no record, a
    non-yearly input or the dbt project changed, an emptied partition on Spark) or, in the environment variable
    IPCITY_DBT_REBUILD_YEARS (a JSON list), the partition years whose rows changed since (new years, re-sent or
    corrected old years). A model built with these macros then rebuilds exactly those years and keeps the
    others. Without the variable (a hand-run `dbt build`) every year is rebuilt, so a hand run is never stale
    either. Not a dbt var: vars are part of dbt's parse state, so a new list every run would cost a full
    re-parse of the project in every dbt step (≈ 3 s each here); the environment is read only when a model
    runs. -#}

{#- The config of a model that is incremental by `year_column` (the raw partition year of its rows), per engine.
    DuckDB: delete+insert keyed by the year, and a pre-hook that first deletes every year being rebuilt, so a
    year whose rows are now all gone (a partition re-sent empty) is emptied too, not left as it was.
    Spark: insert_overwrite of a table partitioned by the year (dynamic partition overwrite: the partitions the
    new rows carry are replaced, the others kept). -#}
{% macro year_incremental_config(year_column) -%}
    {{ return(adapter.dispatch('year_incremental_config', 'ipcity')(year_column)) }}
{%- endmacro %}

{% macro default__year_incremental_config(year_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': year_column,
        'on_schema_change': 'fail',
        'pre_hook': "{{ delete_rebuilt_years('" ~ year_column ~ "') }}",
    }) }}
{%- endmacro %}

{% macro spark__year_incremental_config(year_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': [year_column],
        'file_format': 'parquet',
        'on_schema_change': 'fail',
    }) }}
{%- endmacro %}

{#- The years this run rebuilds: none = every year (a first or full build, or no list given). Never read while
    parsing (execute is false then), so the list is not part of what dbt records for partial parsing. -#}
{% macro rebuilt_years() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set given = env_var('IPCITY_DBT_REBUILD_YEARS', '') | trim -%}
    {%- if given == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set years = fromjson(given) -%}
    {%- set out = [] -%}
    {%- for y in years -%}
        {%- do out.append(y | int) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{#- A predicate on the raw partition year that keeps the rows of the years being rebuilt (true for a full build). -#}
{% macro in_rebuilt_years(year_column) -%}
    {%- set years = rebuilt_years() -%}
    {%- if years is none -%}
        1 = 1
    {%- elif years | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ year_column }} in ({{ years | join(', ') }})
    {%- endif -%}
{%- endmacro %}

{#- DuckDB pre-hook: the rows of the years being rebuilt leave the table before the new rows go in. -#}
{% macro delete_rebuilt_years(year_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_rebuilt_years(year_column) }}
    {%- endif -%}
{%- endmacro %}
