{#- The raw layer for engines that do not read the DuckDB warehouse: on Spark, every source in schema raw is an
    external Parquet table over the lake folder pipelines/lake.py writes (<IPCITY_LAKE>/raw/<table>, partitioned
    by year for yearly sources), re-registered at each run so a new column or partition is seen. Tables the
    Python steps write between the dbt steps come as IPCITY_SPARK_EXTERNAL="schema.table=path;..." (set by
    pipelines/spark_engine.py). On DuckDB the sources are the warehouse's own tables: nothing to do. -#}
{% macro register_lake_sources() -%}
    {{ return(adapter.dispatch('register_lake_sources', 'ipcity')()) }}
{%- endmacro %}

{% macro default__register_lake_sources() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__register_lake_sources() -%}
    {%- if execute -%}
    {%- set lake = env_var('IPCITY_LAKE', '../data/lake') -%}
    {%- set tables = {} -%}
    {#- only the raw tables a model reads: sources declared for the docs alone (the quarantine the dashboard
        shows, models/exposures) are not in the lake -#}
    {%- set read_by_models = [] -%}
    {%- for model in graph.nodes.values() if model.resource_type == 'model' -%}
        {%- do read_by_models.extend(model.depends_on.nodes) -%}
    {%- endfor -%}
    {%- for node in graph.sources.values() if node.schema == 'raw' and node.unique_id in read_by_models -%}
        {%- do tables.update({'raw.' ~ node.name: lake ~ '/raw/' ~ node.name}) -%}
    {%- endfor -%}
    {%- for item in env_var('IPCITY_SPARK_EXTERNAL', '').split(';') if '=' in item -%}
        {%- set name, path = item.split('=', 1) -%}
        {%- do tables.update({name.strip(): path.strip()}) -%}
    {%- endfor -%}
    {%- for name, path in tables.items() -%}
        {%- do run_query('create database if not exists ' ~ name.split('.')[0]) -%}
        {%- do run_query('drop table if exists ' ~ name) -%}
        {%- do run_query("create table " ~ name ~ " using parquet location '" ~ path ~ "'") -%}
        {#- dbt listed the schemas it builds in before this hook ran: without telling its relation cache, a model's
            adapter.get_relation would not see a table registered here for the first time (the Monte Carlo rank
            intervals in marts on a fresh run), and the evaluation would build without them -#}
        {%- do adapter.cache_added(api.Relation.create(schema=name.split('.')[0], identifier=name.split('.')[1],
                                                       type='table')) -%}
    {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
