-- The evaluation window of each peer group, with the catalog version of each year.
-- Cities: from the first year in which every yearly source has data to the last year any of them has data
-- (a source that is late for the last year is carried forward one year, then missing). Provinces: the years
-- of the published statistics. vars evaluation_first_year / evaluation_last_year pin the window, which is how
-- a published year is recomputed exactly (min-max bounds depend on the window).
with source_years as (
    select 'pledge_loans' as source_name, min(year) as first_year, max(year) as last_year
    from {{ ref('stg_raw__pledge_loans') }}
    union all
    select 'enforcement_cases', min(filed_year), max(filed_year) from {{ ref('stg_raw__enforcement_cases') }}
    union all
    select 'training_events', min(year), max(year) from {{ ref('stg_raw__training_events') }}
    union all
    -- the grant records' years from their cohorts (the same years, without a scan of every record)
    select 'patent_grants', min(grant_year), max(grant_year) from {{ ref('int_patents__grant_cohorts') }}
),

city_window as (
    select 'city' as peer_group, max(first_year) as first_year, max(last_year) as last_year
    from source_years
),

province_window as (
    select 'province' as peer_group, min(year) as first_year, max(year) as last_year
    from {{ ref('stg_raw__patent_stats') }}
    where region_code like '__0000'
),

windows as (
    select * from city_window
    union all
    select * from province_window
),

catalog_years as (
    select cast(evaluation_year as integer) as year, cast(catalog_version as string) as catalog_version
    from {{ ref('catalog_versions') }}
)

select
    w.peer_group,
    c.year,
    c.catalog_version
from windows as w
inner join catalog_years as c
    on c.year >= w.first_year
    and c.year <= w.last_year
{%- if var('evaluation_first_year') is not none %}
    and c.year >= {{ var('evaluation_first_year') }}
{%- endif %}
{%- if var('evaluation_last_year') is not none %}
    and c.year <= {{ var('evaluation_last_year') }}
{%- endif %}
