-- Third-party evaluation uploads, one row per city, cycle, evaluator and report version. Every row is kept
-- (versions are history); the mart picks the current version. A re-sent file with the same key wins.
with src as (
    {{ latest_per_key(source('raw', 'third_party_evaluations'),
        ['city_code', 'cycle_first_year', 'cycle_last_year', 'evaluator', 'report_version']) }}
)

select
    cast(city_code as string) as unit_code,
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
