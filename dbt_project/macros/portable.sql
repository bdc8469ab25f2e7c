{#- Engine-specific SQL lives here, behind adapter.dispatch, so models stay portable (DuckDB now, Spark later). -#}

{#- Median of a numeric expression, as an aggregate. -#}
{% macro median_of(expr) -%}
    {{ return(adapter.dispatch('median_of', 'ipcity')(expr)) }}
{%- endmacro %}

{% macro default__median_of(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__median_of(expr) -%}
    median({{ expr }})
{%- endmacro %}

{% macro spark__median_of(expr) -%}
    percentile({{ expr }}, 0.5)
{%- endmacro %}

{#- Division that yields null instead of an error or infinity when the denominator is 0 or null: an
    indicator with no denominator is missing, never zero. -#}
{% macro safe_divide(numerator, denominator) -%}
    case when {{ denominator }} is null or {{ denominator }} = 0 then null
         else cast({{ numerator }} as double) / cast({{ denominator }} as double) end
{%- endmacro %}

{#- Calendar year of a date column as an integer. -#}
{% macro year_of(date_expr) -%}
    cast(extract(year from {{ date_expr }}) as integer)
{%- endmacro %}

{#- Square root that keeps the sign, so the skewness transform is defined for negative values
    (year-on-year growth can be negative). -#}
{% macro signed_sqrt(expr) -%}
    (case when {{ expr }} < 0 then -1.0 else 1.0 end) * sqrt(abs({{ expr }}))
{%- endmacro %}

{#- The prefecture-level code of a 6-digit region code: code[:4] || '00'. -#}
{% macro prefecture_of(code_expr) -%}
    {{ dbt.concat(["substr(" ~ code_expr ~ ", 1, 4)", "'00'"]) }}
{%- endmacro %}

{#- The province code of a 6-digit region code: code[:2] || '0000'. -#}
{% macro province_of(code_expr) -%}
    {{ dbt.concat(["substr(" ~ code_expr ~ ", 1, 2)", "'0000'"]) }}
{%- endmacro %}

{#- Keep the most recently ingested row per business key: a corrected file re-sent later wins. ``where``: a
    predicate on the relation's rows applied before the ranking (an incremental model's years). ``then_by``: order
    expressions of the source's own that decide between rows ingested at the same instant (e.g. the later-dated
    report), before the file name and the row. The order is total -- the file name, then the row within the file
    (a later row corrects an earlier one) -- so two rows of one key loaded at the same instant from two files
    never go by the order the engine happens to read them in, and a re-run gives the same verdict. -#}
{% macro latest_per_key(relation, key_columns, where=none, then_by=[]) -%}
    select * from (
        select
            r.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _ingested_at desc nulls last,
                    {%- for o in then_by %} {{ o }},{% endfor %}
                    _source_file desc nulls last, _row_number desc nulls last
            ) as _key_rank
        from {{ relation }} as r
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as ranked
    where _key_rank = 1
{%- endmacro %}

{#- Sum of a double expression that does not depend on the order the engine adds the rows in: each term is
    taken as an exact decimal (18 places: below a double's precision for the scores' magnitudes) and decimals
    add exactly (``over``: a window clause, for the windowed sum). Why: a parallel float sum differs in its last bits between runs, and a verdict compared at a
    threshold must come out the same every time the same data are evaluated. -#}
{% macro exact_sum(expr, over=none) -%}
    cast(sum(cast({{ expr }} as decimal(38, 18))){% if over %} over ({{ over }}){% endif %} as double)
{%- endmacro %}

{#- dbt.listagg on Spark (dbt-spark 1.11) ignores the order clause (only a warning) and gives '' instead of null
    for a group with no value, so lists such as "2022:2024.1, 2023:2024.1" came out in any order. Spark 4 has
    listagg ... within group (order by ...), which does both as DuckDB does. dbt_project.yml's dispatch
    search order puts this project before dbt, so every dbt.listagg on Spark comes here. DuckDB sorts nulls
    last by default and Spark first: a single order key gets an explicit nulls last. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ return(dbt.spark__listagg(measure, delimiter_text, order_by_clause, limit_num)) }}
    {%- endif -%}
    {%- set order = order_by_clause or '' -%}
    {%- if order and 'nulls' not in order | lower and ',' not in order -%}
        {%- set order = order ~ ' nulls last' -%}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }}){% if order %} within group ({{ order }}){% endif %}
{%- endmacro %}

{#- Round half away from zero at `digits` decimals, exactly as DuckDB's round(double, digits) does it
    (round(x * 10^d) / 10^d in doubles). Spark's round(double) rounds the double's shortest decimal text half
    up instead (round(1.005, 2) = 1.01 on Spark, 1.0 on DuckDB), so on Spark the same steps are spelt out: the
    fractional part y - floor(y) is exact in binary floating point, so the comparison with 0.5 is too. -#}
{% macro round_half_away(expr, digits=0) -%}
    {{ return(adapter.dispatch('round_half_away', 'ipcity')(expr, digits)) }}
{%- endmacro %}

{% macro default__round_half_away(expr, digits=0) -%}
    round({{ expr }}, {{ digits }})
{%- endmacro %}

{% macro spark__round_half_away(expr, digits=0) -%}
    {%- set scale = 10 ** digits -%}
    {%- set y = '(abs(cast(' ~ expr ~ ' as double)) * ' ~ scale ~ '.0)' -%}
    (sign(cast({{ expr }} as double))
      * (floor({{ y }}) + case when {{ y }} - floor({{ y }}) >= 0.5 then 1 else 0 end) / {{ scale }}.0)
{%- endmacro %}

{#- The materialisation of an intermediate model that DuckDB inlines as a CTE (ephemeral). Spark inlines a CTE at
    every reference and optimises the whole tree at once: a chain of ephemeral models read several times
    became one plan that took Spark's optimiser minutes for the evaluation marts. On Spark they are tables,
    built once; on DuckDB nothing changes. -#}
{% macro ephemeral_except_on_spark() -%}
    {{ return('table' if target.type == 'spark' else 'ephemeral') }}
{%- endmacro %}

{#- Codes that changed (seed unit_code_changes): a row sent under an old prefecture code, or under a county code
    of an old prefecture, belongs to the unit of the new code; without the mapping it became a unit of its own (or
    no unit) and split a city's history. Use with current_region_code_join in the same query. A county code under
    an old prefecture maps to the new prefecture code: its county was recoded too, and attribution needs only the
    prefecture. -#}
{% macro current_region_code_join(code_expr, alias='code_change') -%}
    left join {{ ref('unit_code_changes') }} as {{ alias }}
        on {{ alias }}.old_code = {{ prefecture_of('cast(' ~ code_expr ~ ' as string)') }}
{%- endmacro %}

{% macro current_region_code(code_expr, alias='code_change') -%}
    coalesce({{ alias }}.new_code, cast({{ code_expr }} as string))
{%- endmacro %}

{#- The visible note of a mapped code (null when the code is current), in both languages. -#}
{% macro region_code_note(code_expr, alias='code_change') -%}
    case when {{ alias }}.old_code is not null then concat_ws(
        '',
        '代码 ', cast({{ code_expr }} as string), ' 属原', {{ alias }}.old_name, '（', {{ alias }}.old_code, '），计入 ',
        {{ alias }}.new_code, ' ', {{ alias }}.new_name, '（', {{ alias }}.document, '）; code ',
        cast({{ code_expr }} as string), ' (former ', {{ alias }}.old_code, ' ', {{ alias }}.old_name, ') counts for ',
        {{ alias }}.new_code, ' ', {{ alias }}.new_name, ' (', {{ alias }}.change_kind, ', ', {{ alias }}.document,
        ' of ', cast({{ alias }}.approved_on as string), ')'
    ) end
{%- endmacro %}

{#- A range of years as text, "2024–2026": the two ends joined by var('range_dash'), the one dash the dashboard
    shows too (dashboards/formatting.RANGE_DASH reads the same var). Every mart text that names a range of years
    writes it through here: the marts wrote "2024-2026" with a hyphen, which the downloads, dossiers, extracts
    and alert titles showed raw beside the pages' "2024–2026". Null when either end is null. -#}
{% macro year_range(low, high) -%}
    {{ dbt.concat(["cast(" ~ low ~ " as string)", "'" ~ var('range_dash') ~ "'", "cast(" ~ high ~ " as string)"]) }}
{%- endmacro %}

{#- The calendar day in China Standard Time (UTC+8, no daylight saving since 1991) of a zoneless UTC timestamp (the
    stores' TIMESTAMP columns hold UTC: pipelines.china_time.utc_now). Reporting deadlines are counted in Beijing
    days: a file loaded 2024-06-30 23:30 UTC arrived on 1 July in Beijing, after a grace period ending 30 June. -#}
{% macro china_date(utc_ts) -%}
    cast({{ dbt.dateadd('hour', 8, utc_ts) }} as date)
{%- endmacro %}

{#- The order that puts the latest release first: the highest sequence number of its id R<year>-<n> (written
    01, 02, ...; the length first, so -100 follows -99 as a number does, not before -11 as a string does). The
    same order as pipelines.evaluation.releases.LATEST_FIRST, which every Python reader uses: without it, from the
    100th release of a year the attribution's part_revision compared against a superseded release while the
    dossier, the extract and the dashboard named the newest. -#}
{% macro release_latest_first(col) -%}
    length({{ col }}) desc nulls last, {{ col }} desc nulls last
{%- endmacro %}

{#- A figure as text at ``digits`` decimals, rounded half up in exact decimals: a double such as 76.85 (held as
    76.8499…) reads 76.9 on every engine (rounding the double gave 76.8 on DuckDB, 76.9 on Spark). -#}
{% macro decimal_text(expr, digits) -%}
    cast(cast(round(cast({{ expr }} as decimal(38, 9)), {{ digits }}) as decimal(38, {{ digits }})) as string)
{%- endmacro %}

{#- A score as text cut (not rounded) to two decimals, toward zero, in exact decimals (float noise taken off at 9
    decimals first): the acceptance score and its parts as pipelines.evaluation.rules.acceptance_score_text shows
    them beside the band, so a score of 59.996 reads 59.99 in the evidence as in the dossier, never 60.0. -#}
{% macro score_text(expr) -%}
    cast(cast(
      case when cast({{ expr }} as decimal(38, 9)) < 0
           then -floor(-cast({{ expr }} as decimal(38, 9)) * 100) / 100
           else floor(cast({{ expr }} as decimal(38, 9)) * 100) / 100 end
    as decimal(38, 2)) as string)
{%- endmacro %}
