{#- The performance band of a composite index (programme average = 100). Boundaries belong to the band
    above: exactly 125 is strong, exactly 100 is strong, exactly 70 is moderate (docs/methodology.md §6). -#}
{% macro performance_group(index_expr) -%}
    case
        when {{ index_expr }} is null then null
        when {{ index_expr }} > 125 then 'leader'
        when {{ index_expr }} >= 100 then 'strong'
        when {{ index_expr }} >= 70 then 'moderate'
        else 'emerging'
    end
{%- endmacro %}
