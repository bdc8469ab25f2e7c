{{ config(materialized='table') }}
-- depends_on: {{ ref('unit_code_changes') }}
-- Change attribution (issue 10): each ranked programme unit's composite-index change since the previous year
-- split EXACTLY (the parts sum to the change; tested to 1e-9) into
--   part_indicators  what the city's indicator scores did, both years weighted by this year's catalog and
--                    measured against last year's programme mean (per pillar: part_mgt .. part_env; per
--                    indicator: fct_index_change_attribution_indicator)
--   part_catalog     the catalog/weight switch: last year's scores under this year's catalog minus last year's
--                    published index (0 when the catalog did not change; a weight-only change is all here)
--   part_rescaling   the peers: this year's programme mean differs from last year's (index base)
-- and, when the previous year was released (schema releases), part_revision = last year's index now minus as
-- released (data revisions and the window's min-max bounds since the release), so that
-- index_change_since_release = index_change + part_revision.
{%- set rel_src = source('evaluation_releases', 'city_score_year') %}
{%- set rel_rel = adapter.get_relation(database=rel_src.database, schema=rel_src.schema,
                                       identifier=rel_src.identifier) if execute else none %}
with ind as (
  select
    unit_code, year, previous_year, catalog_version,
    sum(term_current) as composite_current,
    sum(term_previous) as composite_previous_same_catalog,
    sum(contribution) as part_indicators,
    sum(case when pillar_code = 'MGT' then contribution else 0 end) as part_mgt,
    sum(case when pillar_code = 'PRO' then contribution else 0 end) as part_pro,
    sum(case when pillar_code = 'UTL' then contribution else 0 end) as part_utl,
    sum(case when pillar_code = 'QLT' then contribution else 0 end) as part_qlt,
    sum(case when pillar_code = 'ENV' then contribution else 0 end) as part_env
  from {{ ref('fct_index_change_attribution_indicator') }}
  group by unit_code, year, previous_year, catalog_version
),

base as (
  select year, catalog_version, avg(composite) as mean_composite
  from {{ ref('int_evaluation_index_by_catalog') }}
  -- the ranked units' mean (the index base): the model also holds programme units scored outside the ranking
  where is_ranked
  group by year, catalog_version
),

-- Releases keep the code a unit had at release time: a row under a code replaced since (seed unit_code_changes:
-- 莱芜 371200 merged into 济南 370100, a 地区 made a 地级市) counts for the unit of the new code, unless that unit has
-- a released row of its own in the same release (pipelines.evaluation.releases.recode_released, the readers' rule):
-- matched on the code as released, a recoded city's revision since release stayed empty.
released as (
  {%- if rel_rel is not none %}
  select unit_code, year, released_index, release_id
  from (
    select
      coalesce(code_change.new_code, r.unit_code) as unit_code,
      r.year,
      r.composite_index as released_index,
      r.release_id,
      row_number() over (
        partition by coalesce(code_change.new_code, r.unit_code), r.year
        order by {{ release_latest_first('r.release_id') }},
          case when code_change.new_code is null then 0 else 1 end nulls last
      ) as k
    from {{ rel_src }} as r
    left join {{ ref('unit_code_changes') }} as code_change on r.unit_code = code_change.old_code
  ) as x
  where k = 1
  {%- else %}
  select cast(null as string) as unit_code, cast(null as integer) as year, cast(null as double) as released_index,
         cast(null as string) as release_id
  from base
  where 1 = 0
  {%- endif %}
),

joined as (
  select
    i.*,
    cur.composite_index as index_current,
    prev.composite_index as index_previous,
    prev.catalog_version as previous_catalog_version,
    b.mean_composite as previous_mean_same_catalog,
    rel.released_index as released_previous_index,
    rel.release_id as previous_release_id
  from ind as i
  inner join {{ ref('fct_city_score_year') }} as cur on cur.unit_code = i.unit_code and cur.year = i.year
  inner join {{ ref('fct_city_score_year') }} as prev on prev.unit_code = i.unit_code and prev.year = i.previous_year
  inner join base as b on b.year = i.previous_year and b.catalog_version = i.catalog_version
  left join released as rel on rel.unit_code = i.unit_code and rel.year = i.previous_year
)

select
  j.unit_code,
  j.year,
  j.previous_year,
  j.previous_catalog_version,
  j.catalog_version,
  j.index_previous,
  j.index_current,
  j.index_current - j.index_previous as index_change,
  j.part_indicators,
  j.part_mgt,
  j.part_pro,
  j.part_utl,
  j.part_qlt,
  j.part_env,
  100 * j.composite_previous_same_catalog / j.previous_mean_same_catalog - j.index_previous as part_catalog,
  j.index_current - 100 * j.composite_current / j.previous_mean_same_catalog as part_rescaling,
  j.previous_release_id,
  j.released_previous_index,
  j.index_previous - j.released_previous_index as part_revision,
  j.index_current - j.released_previous_index as index_change_since_release
from joined as j
