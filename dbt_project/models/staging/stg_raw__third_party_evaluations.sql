-- Third-party evaluation uploads, one row per city, cycle, evaluator and report version. Every row is kept
-- (versions are history); the mart picks the current version. A re-sent file with the same key wins. A report
-- sent under an old code (seed unit_code_changes) or a county code of an old prefecture is the report on the unit
-- of the new code (macro current_region_code, as every statistics source): without it the city's acceptance
-- score went without its third-party part. The code as sent and a note stay beside it.
with mapped as (
    select
        src.*,
        {{ current_region_code('src.city_code') }} as current_unit_code,
        {{ region_code_note('src.city_code') }} as unit_code_note
    from {{ source('raw', 'third_party_evaluations') }} as src
    {{ current_region_code_join('src.city_code') }}
),

-- Two rows of one report loaded at the same instant (two files of one batch, or the old and the new code of the
-- unit in one file): the later-dated report is the current one, then the one sent under the current code (the
-- unit as it is named now, not a code kept only for mapping); never the order the rows arrive in.
src as (
    {{ latest_per_key('mapped',
        ['current_unit_code', 'cycle_first_year', 'cycle_last_year', 'evaluator', 'report_version'],
        then_by=['cast(evaluated_on as date) desc nulls last',
                 '(case when unit_code_note is null then 0 else 1 end) asc']) }}
)

select
    cast(current_unit_code as string) as unit_code,
    cast(city_code as string) as unit_code_as_sent,
    cast(unit_code_note as string) as unit_code_note,
    cast(unit_name as string) as unit_name,
    cast(cycle_first_year as integer) as cycle_first_year,
    cast(cycle_last_year as integer) as cycle_last_year,
    cast(evaluator as string) as evaluator,
    cast(report_version as integer) as report_version,
    cast(evaluated_on as date) as evaluated_on,
    cast(score_mgt as double) as score_mgt,
    cast(score_pro as double) as score_pro,
    cast(score_utl as double) as score_utl,
    cast(score_qlt as double) as score_qlt,
    cast(score_env as double) as score_env,
    cast(site_visit_score as double) as site_visit_score,
    cast(site_visit_date as date) as site_visit_date,
    cast(document_review_score as double) as document_review_score,
    cast(findings as string) as findings,
    cast(site_visit_findings as string) as site_visit_findings,
    cast(document_review_findings as string) as document_review_findings,
    cast(_source_file as string) as source_file,
    cast(_file_hash as string) as file_hash,
    _ingested_at as ingested_at
from src
