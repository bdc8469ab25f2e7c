-- The grant records reduced to cohorts: per raw partition year, region code, grant year, lapse year, patent type
-- and the two flags the indicators split by, the number of patents. Every patent measure (grants, patents in
-- force, the records-vs-statistics reconciliation, the evaluation window, the region codes units are
-- attributed by) is a sum over these few thousand rows per year instead of a scan of millions of records.
-- Incremental by partition year (macros/incremental_years.sql): a run rebuilds only the years whose raw
-- partitions changed. It reads the raw table, not stg_raw__patent_grants, because the staging view keeps the
-- latest row per publication number over ALL years (a window over every record) and a filter on the year
-- cannot pass that window.
-- No latest-per-key window here either: raw.patent_grants holds one row per publication number, so ranking
-- ≈ 3.5 M unique keys a national year (every column carried through the sort, 1.2–1.9 s of CPU per model) only
-- ever kept every row. Why the key is unique (docs/incremental.md, "one row per key"): the loader is the only
-- writer and refuses a key repeated within a file and replaces the earlier row of a key re-sent in any other
-- file, all years (pipelines/ingest/load.py: _staged_duplicates, _drop_already_loaded; pinned by
-- tests/test_grants_key_guard.py); and every partition a run loads is checked before dbt runs by the
-- contract's blocking duplicate-key check (pipelines/quality/partition_profile.py, duplicate_keys, error) with
-- its rows-outside-partition-year check, so a row that got past the loader stops the run instead of being
-- counted twice.
{{ config(**year_incremental_config('partition_year')) }}

with records as (
    select * from {{ source('raw', 'patent_grants') }}
    where {{ in_rebuilt_years('year') }}
),

grants as (
    select
        cast(year as integer) as partition_year,
        cast(region_code as string) as region_code,
        {{ year_of('cast(grant_date as date)') }} as grant_year,
        {{ year_of('cast(lapse_date as date)') }} as lapse_year,
        cast(patent_type as string) as patent_type,
        case when cast(applicant_type as string) = 'enterprise' then 1 else 0 end as is_enterprise,
        case when cast(is_high_value as boolean) then 1 else 0 end as is_high_value
    from records
)

select
    region_code,
    grant_year,
    lapse_year,
    patent_type,
    is_enterprise,
    is_high_value,
    count(*) as n_patents,
    partition_year
from grants
group by partition_year, region_code, grant_year, lapse_year, patent_type, is_enterprise, is_high_value
