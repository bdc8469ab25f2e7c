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

-- One report held twice in one load with different scores (the same city and cycle under its old and its new code,
-- or two evaluators' reports of one version in one file): the rules below pick one, the same one every run, but
-- which figures are right cannot be told from the data. Every such report is named here -- its rows, files and
-- scores -- so the data engineer sees it (warn test on fct_third_party_evaluation, quality.check_results) and the
-- dossier marks the score it produced; only the scores count (a second row that repeats them is a duplicate).
scored_rows as (
    select
        m.*,
        concat_ws(' / ',
            coalesce(cast(m.score_mgt as string), '-'), coalesce(cast(m.score_pro as string), '-'),
            coalesce(cast(m.score_utl as string), '-'), coalesce(cast(m.score_qlt as string), '-'),
            coalesce(cast(m.score_env as string), '-'), coalesce(cast(m.site_visit_score as string), '-'),
            coalesce(cast(m.document_review_score as string), '-')) as score_signature
    from mapped as m
),

conflicts as (
    select
        current_unit_code,
        cycle_first_year,
        cycle_last_year,
        report_version,
        _ingested_at,
        cast(count(*) as integer) as conflicting_rows,
        {{ dbt.listagg("concat_ws('', _source_file, ' row ', cast(_row_number as string), ' (', evaluator, ', ',
                       city_code, '): ', score_signature)", "'; '", "order by _source_file nulls last, _row_number nulls last") }}
            as conflict_detail
    from scored_rows
    group by current_unit_code, cycle_first_year, cycle_last_year, report_version, _ingested_at
    having min(score_signature) <> max(score_signature)
),

-- Two rows of one report loaded at the same instant (two files of one batch, or the old and the new code of the
-- unit in one file): the later-dated report is the current one, then the one sent under the current code (the
-- unit as it is named now, not a code kept only for mapping); never the order the rows arrive in.
src as (
    {{ latest_per_key('mapped',
        ['current_unit_code', 'cycle_first_year', 'cycle_last_year', 'evaluator', 'report_version'],
        then_by=['cast(evaluated_on as date) desc nulls last',
                 '(case when unit_code_note is null then 0 else 1 end) asc']) }}
),

flagged as (
    select
        s.*,
        c.conflicting_rows,
        c.conflict_detail
    from src as s
    left join conflicts as c
        on c.current_unit_code = s.current_unit_code
        and c.cycle_first_year = s.cycle_first_year
        and c.cycle_last_year = s.cycle_last_year
        and c.report_version = s.report_version
        and c._ingested_at = s._ingested_at
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
    _ingested_at as ingested_at,
    -- rows of this report (same unit, cycle and version, one load) whose scores differ from each other: 0 if none
    coalesce(conflicting_rows, 0) as report_conflict_rows,
    conflict_detail as report_conflict_detail
from flagged
