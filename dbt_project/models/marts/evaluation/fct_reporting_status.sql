{{ config(materialized='table') }}
-- Reporting status per programme unit, reported source and year (issue 10): due, received, late, missing,
-- not_reported. The management measures count a pilot city that does not report within six months as exit,
-- so a city can never escape the evaluation by not reporting, nor by reporting after the six months:
-- fct_evaluation_year turns not_reported into the stage not_reported, counted as exit.
--   due_date        = year end + RPT.due_months (default 3: 31 March of the next year)
--   grace_end_date  = year end + RPT.grace_months (default 6: 30 June of the next year)
--   received_date   = the day the unit's report for the year was first received, in China Standard Time: the
--                     earliest evidence of its files (RPT.city_sources: the files holding the unit's own rows, a
--                     prefecture counting its county-level codes, and the files of rows a later correction
--                     replaced, so a correction re-sent later never moves the receipt; RPT.file_sources: event
--                     files that cover every unit, so a unit without events that year has a zero, not a missing
--                     report). A file's evidence (receipt_evidence) is its first sighting in the landing folder
--                     (raw.file_receipts: recorded once, never moved by re-loads; a same-named version re-sent
--                     later keeps the first one's), else, for files loaded before sightings were recorded, the
--                     day of its load (raw.ingested_files) when the load came before the first sighting,
--                     whichever is earlier. The whole last day counts.
--   status          = received (by due_date) | late (after due_date, by grace_end_date) | missing (not yet, grace
--                     not over) | not_reported (nothing by grace_end_date <= as_of). A report first received
--                     after grace_end_date stays not_reported (the exit consequence: not reporting within the
--                     six months counts as exit); received_after_grace_end says it arrived later. A report
--                     received after as_of does not count (a pinned as_of judges what was received by then).
--                     none_received: past the grace period and NO unit's report of the source and year was
--                     received within it (the year's file lost, loaded late or never loaded): the collection's
--                     gap, not a city's failure -- not counted as exit, named in fct_evaluation_year's reasons.
--                     backfilled: received after a grace period that ended before the ledger began
--                     (monitored_from: the first load or sighting it records), i.e. loaded as history; the
--                     ledger cannot tell when the unit reported, so it is not judged (no exit on no evidence).
-- as_of = var('reporting_as_of') when set (pin it to recompute a published status), else the latest
-- ingestion or sighting in the ledger, so the same data always give the same status.
with params as (
  select * from {{ ref('int_evaluation_params_year') }}
),

ledger as (
  select source, file_name, partition, partition as file_partition, ingested_at
  from {{ source('evaluation_ledger', 'ingested_files') }}
  where status = 'loaded'
),

receipts as (
  select source, file_name, file_hash, first_seen_utc, first_seen_on
  from {{ source('evaluation_ledger', 'file_receipts') }}
),

as_of as (
  {%- if var('reporting_as_of', none) %}
  select cast('{{ var("reporting_as_of") }}' as date) as as_of_date
  {%- else %}
  select max(d) as as_of_date
  from (
    select {{ china_date('max(ingested_at)') }} as d from ledger
    union all
    select max(first_seen_on) from receipts
  ) as latest
  {%- endif %}
),

-- the first day the ledger has any record of (a load or a sighting): a grace period that ended before it cannot be
-- judged from the ledger, whose only evidence of that year is the history backfill
ledger_start as (
  select min(d) as monitored_from
  from (
    select {{ china_date('min(ingested_at)') }} as d from {{ source('evaluation_ledger', 'ingested_files') }}
    union all
    select min(first_seen_on) from receipts
  ) as earliest
),

-- the evidence of each file's receipt, by file name (a same-named version re-sent later is the same report): its
-- first sighting in the landing folder, and the day it was loaded (the only evidence of files loaded before
-- sightings were recorded); the earliest counts, a sighting before a load on the same day.
-- A load counts only when it came before the name's first sighting: the ingest records the sighting before it
-- loads, so a later load is never evidence. Its day is the Beijing day of its UTC time (macro china_date), the day
-- the six months are counted in: a load at 23:30 UTC on 30 June is 1 July in Beijing. Compared by the hour, with
-- 14 hours of margin (the widest offset of a machine clock from UTC, for ledgers written before the loads' times
-- were UTC): a file seen 2024-07-01 00:30 UTC+8 and loaded a minute later on a UTC clock (2024-06-30 16:31) was
-- received after the grace period, not on 30 June.
first_sightings as (
  select source, file_name, min(first_seen_utc) as first_seen_utc
  from receipts
  group by source, file_name
),

file_dates as (
  select source, file_name, first_seen_on as evidence_date, 'first_seen' as receipt_evidence
  from receipts
  union all
  select i.source, i.file_name, {{ china_date('i.ingested_at') }}, 'load_time'
  from {{ source('evaluation_ledger', 'ingested_files') }} as i
  left join first_sightings as s on s.source = i.source and s.file_name = i.file_name
  where i.status in ('loaded', 'replaced')
    and (s.first_seen_utc is null or i.ingested_at < {{ dbt.dateadd('hour', -14, 's.first_seen_utc') }})
),

file_receipt as (
  select source, file_name, evidence_date, receipt_evidence
  from (
    select
      fd.*,
      row_number() over (
        partition by fd.source, fd.file_name
        order by fd.evidence_date asc nulls last, fd.receipt_evidence asc nulls last
      ) as evidence_rank
    from file_dates as fd
  ) as ranked
  where evidence_rank = 1
),

programme as (
  select unit_code, unit_name
  from {{ ref('dim_city') }}
  where is_programme
),

-- the years a unit owes its reports: the years one of its memberships covers (fct_programme_membership: from
-- the joining year to the withdrawal, the promotion or the end of a fixed period), not every year from its
-- first cohort on. A strong-city unit whose 2022-2024 period ended owes no 2025 report, a unit whose title was
-- removed owes none for the years before it re-joined: a missing report there is no exit.
memberships as (
  -- the roster's intermediate: the mart fct_programme_membership is built after the acceptance score, downstream
  -- of this model (the policy simulator does not rebuild this model)
  select unit_code, first_evaluated_year, last_evaluated_year
  from {{ ref('int_programme_memberships') }}
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

covered as (
  select distinct m.unit_code, d.year
  from memberships as m
  inner join due_years as d
    on m.first_evaluated_year <= d.year
    and (m.last_evaluated_year is null or d.year <= m.last_evaluated_year)
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
  inner join covered as cv on cv.unit_code = u.unit_code and cv.year = d.year
  where (concat_ws('', ',', d.city_sources, ',') like concat_ws('', '%,', s.source, ',%')
         or concat_ws('', ',', d.file_sources, ',') like concat_ws('', '%,', s.source, ',%'))
),

-- city reports: the files of the unit's own statistics rows (a prefecture also through its county-level codes)
city_files as (
  select
    e.unit_code, e.source, e.year, r._source_file as file_name,
    {{ china_date('min(r._ingested_at)') }} as loaded_on
  from expected as e
  inner join {{ source('raw', 'pledge_loans') }} as r
    on e.source = 'pledge_loans'
   and cast(r.year as integer) = e.year
   and (cast(r.city_code as string) = e.unit_code
        or {{ prefecture_of('cast(r.city_code as string)') }} = e.unit_code)
  where e.is_city_report
  group by e.unit_code, e.source, e.year, r._source_file
  union all
  -- rows a later file corrected left the raw table: the file that first sent them still received the report
  -- (key_values is the row's key as pipelines/ingest/load.py writes it: {"city_code": "xxxxxx", "month": "yyyy-mm-dd"})
  select e.unit_code, e.source, e.year, c.old_file, cast(null as date)
  from expected as e
  inner join {{ source('evaluation_ledger', 'corrections') }} as c
    on c.source = e.source
   and c.key_values like '{"city_code": "%'
   and (substr(c.key_values, 16, 6) = e.unit_code
        or {{ prefecture_of('substr(c.key_values, 16, 6)') }} = e.unit_code)
   and c.key_values like concat_ws('', '%"month": "', cast(e.year as string), '-%')
  where e.is_city_report and e.source = 'pledge_loans'
),

-- event files: the loaded files of the source's year
file_files as (
  select source, cast(file_partition as integer) as year, file_name, {{ china_date('min(ingested_at)') }} as loaded_on
  from ledger
  where file_partition is not null
  group by source, cast(file_partition as integer), file_name
),

-- each file's receipt of the unit's report (its evidence, else the day its rows were loaded)
city_file_receipts as (
  select
    cf.unit_code, cf.source, cf.year, cf.file_name as receipt_file,
    coalesce(fr.evidence_date, cf.loaded_on) as received_date,
    case when fr.evidence_date is not null then fr.receipt_evidence else 'load_time' end as receipt_evidence
  from city_files as cf
  left join file_receipt as fr on fr.source = cf.source and fr.file_name = cf.file_name
),

file_file_receipts as (
  select
    ff.source, ff.year, ff.file_name as receipt_file,
    coalesce(fr.evidence_date, ff.loaded_on) as received_date,
    case when fr.evidence_date is not null then fr.receipt_evidence else 'load_time' end as receipt_evidence
  from file_files as ff
  left join file_receipt as fr on fr.source = ff.source and fr.file_name = ff.file_name
),

-- the earliest receipt counts (ties: by file name, so the same data always name the same file)
city_received as (
  select unit_code, source, year, received_date, receipt_evidence, receipt_file
  from (
    select
      c.*,
      row_number() over (
        partition by c.unit_code, c.source, c.year
        order by c.received_date asc nulls last, c.receipt_file asc nulls last
      ) as receipt_rank
    from city_file_receipts as c
  ) as ranked
  where receipt_rank = 1 and received_date is not null
),

file_received as (
  select source, year, received_date, receipt_evidence, receipt_file
  from (
    select
      f.*,
      row_number() over (
        partition by f.source, f.year
        order by f.received_date asc nulls last, f.receipt_file asc nulls last
      ) as receipt_rank
    from file_file_receipts as f
  ) as ranked
  where receipt_rank = 1 and received_date is not null
),

joined as (
  select
    e.*,
    case when e.is_city_report then c.received_date else f.received_date end as received_date,
    case when e.is_city_report then c.receipt_evidence else f.receipt_evidence end as receipt_evidence,
    case when e.is_city_report then c.receipt_file else f.receipt_file end as receipt_file
  from expected as e
  left join city_received as c on c.unit_code = e.unit_code and c.source = e.source and c.year = e.year
  left join file_received as f on not e.is_city_report and f.source = e.source and f.year = e.year
),

-- Whether ANY unit's report of the source and year was received within the grace period (and by as_of). When none
-- was -- the year's event file never arrived or came late, no unit's statistics of the year were loaded in time --
-- the gap is the collection's, not a city's: every programme unit read not_reported, i.e. exit, on a file the
-- office lost, loaded late or never loaded (none_received below: not counted as exit, named in the year's reasons
-- so the office looks into it). A report of a year whose grace period ended before the ledger began (backfilled) is
-- one received: the year was collected, only its day is unknown.
source_year_received as (
  select
    j.source,
    j.year,
    max(case when j.received_date <= a.as_of_date
               and (j.received_date <= j.grace_end_date or j.grace_end_date < ls.monitored_from) then 1 else 0 end)
      as any_received
  from joined as j
  cross join as_of as a
  cross join ledger_start as ls
  group by j.source, j.year
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
  j.receipt_evidence,
  j.receipt_file,
  a.as_of_date,
  ls.monitored_from,
  -- a report counts only if it was received by as_of (a pinned as_of recomputes a published status) and by the
  -- end of the grace period: one first received after it stays not_reported, counted as exit -- unless the grace
  -- period ended before the ledger began (monitored_from): then its only evidence is the history backfill, which
  -- says nothing about when the unit reported (backfilled, not judged)
  case
    when j.received_date <= a.as_of_date and j.received_date <= j.due_date then 'received'
    when j.received_date <= a.as_of_date and j.received_date <= j.grace_end_date then 'late'
    when j.received_date <= a.as_of_date and j.grace_end_date < ls.monitored_from then 'backfilled'
    when a.as_of_date <= j.grace_end_date then 'missing'
    when sy.any_received = 0 then 'none_received'
    else 'not_reported'
  end as status,
  coalesce(
    j.received_date > j.grace_end_date and j.received_date <= a.as_of_date
    and not j.grace_end_date < ls.monitored_from,
    false
  ) as received_after_grace_end
from joined as j
cross join as_of as a
cross join ledger_start as ls
inner join source_year_received as sy on sy.source = j.source and sy.year = j.year
