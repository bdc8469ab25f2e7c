{#- The performance group of a composite index (programme average = 100): the band of
    int_performance_bands (from the seed performance_bands, the one place the bounds are written) that holds
    the index; null for a null index. A scalar aggregate subquery, so it runs on DuckDB and Spark alike.
    ``index_expr`` is the index as published (macro published_index: GEN.index_decimals, half up in exact
    decimals), the figure shown beside the group: a city reading a band's floor is never in the band under it, and two
    cities showing the same figure are in the same band; pipelines.labels.performance_group and the uncertainty
    step band the same way. -#}
{% macro performance_group(index_expr) -%}
    (
        select max(b.group_code)
        from {{ ref('int_performance_bands') }} as b
        where
            (
                b.lower_bound is null
                or {{ index_expr }} > b.lower_bound
                or (b.lower_bound_inclusive and {{ index_expr }} = b.lower_bound)
            )
            and (
                b.upper_bound is null
                or {{ index_expr }} < b.upper_bound
                or (b.upper_bound_inclusive and {{ index_expr }} = b.upper_bound)
            )
    )
{%- endmacro %}

{#- The composite index as published: rounded half up at GEN.index_decimals decimals (seed evaluation_rules, the
    one definition of the shown precision) in exact decimal arithmetic, as pipelines.labels.published_index does.
    Why decimal: round() of a double rounds its binary value (80.05 is 80.04999… in binary and DuckDB reads it
    80.0 where a reader's half-up reads 80.1); the double is first taken at 9 decimals (its float noise off), then
    rounded half up, the same in DuckDB and Spark. Ranks, ties (并列) and performance groups are decided on this
    figure, so two cities showing the same figure are never ranked apart or banded apart (methodology §6). The
    digits are read from the seed (one value in every rules version, checked by pipelines.evaluation.rules);
    round() needs a constant scale, hence one branch per allowed value, each cast back to decimal(38, 9): DuckDB
    gives a case the type of its first branch (decimal(38, 0)), which rounded every index to a whole number. -#}
{% macro published_index(index_expr) -%}
    {%- set d = "(select max(cast(r.value as integer)) from " ~ ref('evaluation_rules')
        ~ " as r where r.rule_code = 'GEN' and r.param = 'index_decimals')" -%}
    case {{ d }}
        {%- for k in range(0, 5) %}
        when {{ k }} then cast(round(cast({{ index_expr }} as decimal(38, 9)), {{ k }}) as decimal(38, 9))
        {%- endfor %}
    end
{%- endmacro %}

{#- A published figure (an index, a change of published indices, a threshold) as text at GEN.index_decimals
    decimals, half up in exact decimals as published_index rounds it: the evidence texts show the very figure a
    rule compared, never a second rounding of it ("+0.04" or "+0.0" beside a change the rule judged as 0.1). -#}
{% macro published_text(expr) -%}
    {%- set d = "(select max(cast(r.value as integer)) from " ~ ref('evaluation_rules')
        ~ " as r where r.rule_code = 'GEN' and r.param = 'index_decimals')" -%}
    case {{ d }}
        {%- for k in range(0, 5) %}
        when {{ k }} then cast(cast(round(cast({{ expr }} as decimal(38, 9)), {{ k }}) as decimal(38, {{ k }})) as string)
        {%- endfor %}
    end
{%- endmacro %}
