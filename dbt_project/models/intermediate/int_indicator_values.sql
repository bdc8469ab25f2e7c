-- Raw indicator values, long: one row per unit x year x indicator of the year's catalog version.
-- Formulas are those of docs/methodology.md §3 and the catalog's formula column. A value that cannot be
-- computed (no data, zero denominator) is null: missing, never zero.
-- Provinces get only the indicators their published statistics support (catalog source_table mentions
-- patent_stats); the other indicators need city-level records.
{%- set formulas = {
    'MGT01': safe_divide('participants_officials', 'population_10k'),
    'MGT02': safe_divide('participants_service_agencies', 'population_10k'),
    'MGT03': safe_divide('training_events * 100', 'population_10k'),
    'PRO01': safe_divide('cases_closed', 'cases_filed + cases_pending_at_start'),
    'PRO02': 'cast(median_days_to_close as double)',
    'PRO03': safe_divide('cases_closed_by_mediation', 'cases_closed'),
    'PRO04': safe_divide('cases_filed', 'population_10k'),
    'UTL01': safe_divide('pledge_amount_10k_yuan', 'gdp_100m_yuan'),
    'UTL02': safe_divide('enterprises_served * 100', 'population_10k'),
    'UTL03': safe_divide('first_time_borrowers', 'enterprises_served'),
    'UTL04': safe_divide('pledge_amount_10k_yuan', 'pledge_amount_10k_yuan_prev_year') ~ ' - 1',
    'UTL05': safe_divide('patents_pledged * 1000', 'in_force_invention'),
    'QLT01': safe_divide('in_force_invention', 'population_10k'),
    'QLT02': safe_divide('in_force_invention_high_value', 'population_10k'),
    'QLT03': safe_divide('grants_invention', 'grants_total'),
    'QLT04': safe_divide('grants_invention_enterprise', 'grants_invention'),
    'ENV01': safe_divide('training_participants', 'population_10k'),
    'ENV02': safe_divide('participants_schools', 'population_10k'),
    'ENV03': safe_divide('grants_total', 'population_10k'),
} %}

with measures as (
    select * from {{ ref('int_unit_year_measures') }}
),

long as (
{%- for code, expr in formulas.items() %}
    select unit_code, peer_group, year, catalog_version, '{{ code }}' as indicator_code,
        cast({{ expr }} as double) as raw_value
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
