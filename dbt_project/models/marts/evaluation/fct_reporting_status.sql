{{ config(materialized='table') }}
-- Reporting status per programme unit, reported source and year (issue 10): due, received, late, missing,
-- not_reported. The management measures count a pilot city that does not report within six months as exit,
-- so a city can never escape the evaluation by not reporting: fct_evaluation_year turns not_reported into
-- the stage not_reported, counted as exit.
--   due_date        = year end + RPT.due_months (default 3: 31 March of the next year)
--   grace_end_date  = year end + RPT.grace_months (default 6: 30 June of the next year)
--   received_date   = first ingestion of the unit's data for the year (RPT.city_sources: the unit's own rows,
--                     a prefecture counting its county-level codes; RPT.file_sources: event files that cover
--                     every unit, so a unit without events that year has a zero, not a missing report)
--   status          = received (by due_date) | late (after due_date) | missing (not yet, grace not over) |
--                     not_reported (not received by grace_end_date <= as_of); a report ingested after as_of
--                     does not count (a pinned as_of reproduces the published status)
-- as_of = var('reporting_as_of') when set (pin it to recompute a published status), else the latest
-- ingestion in the ledger, so the same data always give the same status.
with params as (
  select * from {{ ref('int_evaluation_params_year') }}
),

ledger as (
  select source, partition, partition as file_partition, ingested_at
  from {{ source('evaluation_ledger', 'ingested_files') }}
  where status = 'loaded'
),

as_of as (
  {%- if var('reporting_as_of', none) %}
  select cast('{{ var("reporting_as_of") }}' as date) as as_of_date
  {%- else %}
  select cast(max(ingested_at) as date) as as_of_date from ledger
  {%- endif %}
),

programme as (
  select unit_code, unit_name, programme_cohort_year, withdrawn_year
  from {{ ref('dim_city') }}
  where is_programme
),

first_year as (
  select min(year) as first_year
  from {{ ref('fct_city_score_year') }}
  where is_evaluated
),

-- every year that has ended by as_of, from the first evaluated year on
due_years as (
  select cast(p.evaluation_year as integer) as year, p.due_months, p.grace_months, p.city_sources, p.file_sources
  from params as p
  cross join as_of as a
  cross join first_year as f
  where p.evaluation_year >= f.first_year
    and p.evaluation_year < {{ year_of('a.as_of_date') }}
),

sources as (
  select 'pledge_loans' as source
  union all
  select 'enforcement_cases'
  union all
  select 'training_events'
),

-- a source is due from the first year it has ever delivered (statistics that began later are not missing
-- before they began)
source_start as (
  select 'pledge_loans' as source, min(cast(year as integer)) as first_year from {{ source('raw', 'pledge_loans') }}
  union all
  select source, min(cast(partition as integer)) from ledger
  where source in ('enforcement_cases', 'training_events') and partition is not null
  group by source
),

expected as (
  select
    u.unit_code, u.unit_name, s.source, d.year,
    concat_ws('', ',', d.city_sources, ',') like concat_ws('', '%,', s.source, ',%') as is_city_report,
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 'd.due_months',
      "cast(concat_ws('', cast(d.year + 1 as string), '-01-01') as date)")) }} as date) as due_date,
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 'd.grace_months',
      "cast(concat_ws('', cast(d.year + 1 as string), '-01-01') as date)")) }} as date) as grace_end_date
  from programme as u
  cross join due_years as d
  cross join sources as s
  inner join source_start as st on st.source = s.source and d.year >= st.first_year
  where (u.programme_cohort_year is null or u.programme_cohort_year <= d.year)
    and (u.withdrawn_year is null or d.year < u.withdrawn_year)
    and (concat_ws('', ',', d.city_sources, ',') like concat_ws('', '%,', s.source, ',%')
         or concat_ws('', ',', d.file_sources, ',') like concat_ws('', '%,', s.source, ',%'))
),

-- city reports: the unit's own statistics rows (a prefecture also through its county-level codes)
city_received as (
  select e.unit_code, e.source, e.year, cast(min(r._ingested_at) as date) as received_date
  from expected as e
  inner join {{ source('raw', 'pledge_loans') }} as r
    on e.source = 'pledge_loans'
   and cast(r.year as integer) = e.year
   and (cast(r.city_code as string) = e.unit_code
        or {{ prefecture_of('cast(r.city_code as string)') }} = e.unit_code)
  where e.is_city_report
  group by e.unit_code, e.source, e.year
),

file_received as (
  select source, cast(file_partition as integer) as year, cast(min(ingested_at) as date) as received_date
  from ledger
  where file_partition is not null
  group by source, cast(file_partition as integer)
),

joined as (
  select
    e.*,
    case when e.is_city_report then c.received_date else f.received_date end as received_date
  from expected as e
  left join city_received as c on c.unit_code = e.unit_code and c.source = e.source and c.year = e.year
  left join file_received as f on not e.is_city_report and f.source = e.source and f.year = e.year
)

select
  j.unit_code,
  j.unit_name,
  j.source,
  j.year,
  case when j.is_city_report then 'city' else 'file' end as reporting_unit,
  j.due_date,
  j.grace_end_date,
  j.received_date,
  a.as_of_date,
  -- a report counts only if it arrived by as_of: a pinned as_of recomputes a published status, and data ingested
  -- after it do not rewrite it
  case
    when j.received_date <= a.as_of_date and j.received_date <= j.due_date then 'received'
    when j.received_date <= a.as_of_date then 'late'
    when a.as_of_date <= j.grace_end_date then 'missing'
    else 'not_reported'
  end as status
from joined as j
cross join as_of as a
