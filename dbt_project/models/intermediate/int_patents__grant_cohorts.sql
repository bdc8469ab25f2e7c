-- The grant records reduced to cohorts: per raw partition year, region code, grant year, lapse year, patent type
-- and the two flags the indicators split by, the number of patents. Every patent measure (grants, patents in
-- force, the records-vs-statistics reconciliation, the evaluation window, the region codes units are
-- attributed by) is a sum over these few thousand rows per year instead of a scan of millions of records.
-- Incremental by partition year (macros/incremental_years.sql): a run rebuilds only the years whose raw
-- partitions changed. It reads the raw table, not stg_raw__patent_grants, because the staging view keeps the
-- latest row per publication number over ALL years (a window over every record) and a filter on the year
-- cannot pass that window; the same latest_per_key is applied here within the years being rebuilt. The two
-- agree because a publication number lives in one partition: the loader removes the earlier row of a key
-- re-sent in any other file (pipelines/ingest/load.py, _drop_already_loaded), and a changed partition on
-- either side of such a correction is rebuilt.
{{ config(**year_incremental_config('partition_year')) }}

with latest as (
    {{ latest_per_key(source('raw', 'patent_grants'), ['publication_number'], where=in_rebuilt_years('year')) }}
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
    from latest
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
