{#- A continuous quantile (0-1) of a numeric expression, as an aggregate; engine-specific behind dispatch. -#}
{% macro quantile_of(expr, q) -%}
    {{ return(adapter.dispatch('quantile_of', 'ipcity')(expr, q)) }}
{%- endmacro %}

{% macro default__quantile_of(expr, q) -%}
    percentile_cont({{ q }}) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__quantile_of(expr, q) -%}
    quantile_cont({{ expr }}, {{ q }})
{%- endmacro %}

{% macro spark__quantile_of(expr, q) -%}
    percentile({{ expr }}, {{ q }})
{%- endmacro %}
