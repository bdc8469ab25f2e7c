{#- The performance group of a composite index (programme average = 100): the band of
    int_performance_bands (from the seed performance_bands, the one place the bounds are written) that holds
    the index; null for a null index. A scalar aggregate subquery, so it runs on DuckDB and Spark alike.
    The index is compared rounded at 9 decimals (as the acceptance score is): an index that is exactly on a band
    bound in decimal arithmetic but 1e-14 under it in doubles is on the bound; pipelines.labels.noise_free and
    the uncertainty step round the same way. -#}
{% macro performance_group(index_expr) -%}
    {%- set index_expr = round_half_away(index_expr, 9) -%}
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
