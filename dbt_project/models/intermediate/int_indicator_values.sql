-- Raw indicator values, long: one row per unit x year x indicator of the year's catalog version.
-- Formulas: the macro indicator_formulas (docs/methodology.md §3 and the catalog's formula column say the same
-- in words). A value that cannot be computed (no data, zero denominator) is null: missing, never zero.
-- Provinces get only the indicators their published statistics support (catalog source_table mentions
-- patent_stats); the other indicators need city-level records.
with measures as (
    select * from {{ ref('int_unit_year_measures') }}
),

long as (
{%- for code, formula in indicator_formulas().items() %}
    select unit_code, peer_group, year, catalog_version, '{{ code }}' as indicator_code,
        cast({{ indicator_value_sql(formula) }} as double) as raw_value
    from measures
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
),

catalog as (
    select
        cast(catalog_version as string) as catalog_version,
        cast(indicator_code as string) as indicator_code,
        cast(source_table as string) as source_table
    from {{ ref('indicator_catalog') }}
)

select
    l.unit_code,
    l.peer_group,
    l.year,
    l.catalog_version,
    l.indicator_code,
    l.raw_value
from long as l
inner join catalog as c
    on c.catalog_version = l.catalog_version
    and c.indicator_code = l.indicator_code
where l.peer_group = 'city'
    or c.source_table like '%patent_stats%'
