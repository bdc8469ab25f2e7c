{#- Layers land in schemas named exactly staging / intermediate / marts (not <target>_staging), because the
    dashboard, Dagster and the evaluation helpers address them by those names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
