-- Third-party evaluation status per programme unit and cycle (issue 17; "每三年期开展一轮第三方评估").
-- Cycles are the unit's own (fct_programme_unit_year calendar). The current upload of a cycle is its highest
-- report version (then the latest ingested, then the later-dated report); earlier versions stay in staging as
-- history (versions_received).
-- status: received | pending (no upload: the cycle shows "third-party evaluation pending", never an
-- indicator-only verdict) | not_on_calendar (an upload for years that are not one of the unit's cycles).
-- third_party_score: the evaluator's overall score, 0-100 = TP.pillar_share x the pillar scores weighted as the
-- composite weights them (catalog version of the cycle's last year) + TP.site_visit_share x site visit +
-- TP.document_review_share x document review. third_party_weight (TP.third_party_weight) is the weight it gets
-- against the indicator-based score in the acceptance score / cycle verdict.
-- The TP parameters of the rules version in force in the cycle's last evaluated year (the year
-- fct_evaluation_cycle and fct_acceptance_score read them for), never a max over every version: a later version's
-- weights scored an earlier cycle's report.
with rules as (
    select
        evaluation_year,
        rules_version,
        tp_third_party_weight as third_party_weight,
        tp_site_visit_share as site_visit_share,
        tp_pillar_share as pillar_share,
        tp_document_review_share as document_review_share
    from {{ ref('int_evaluation_params_year') }}
),

calendar_cycles as (
    select
        unit_code,
        cycle_start as cycle_first_year,
        cycle_end as cycle_last_year,
        programme_code,
        last_year as last_evaluated_year,
        is_cut_short
    from {{ ref('int_programme_unit_cycles') }}
),

uploads as (
    select
        u.*,
        row_number() over (
            partition by u.unit_code, u.cycle_first_year, u.cycle_last_year
            -- a total order, so the current report never depends on the order rows arrive in: the highest
            -- version, the latest loaded, then the later-dated report (two evaluators' reports of one version
            -- loaded together: the later one supersedes), then the evaluator, file and hash only so the same data
            -- always name the same report
            order by
                u.report_version desc nulls last, u.ingested_at desc nulls last, u.evaluated_on desc nulls last,
                u.evaluator asc nulls last, u.source_file desc nulls last, u.file_hash asc nulls last
        ) as version_rank,
        count(*) over (partition by u.unit_code, u.cycle_first_year, u.cycle_last_year) as versions_received
    from {{ ref('stg_raw__third_party_evaluations') }} as u
),

current_upload as (
    select * from uploads
    where version_rank = 1
),

pillar_weights as (
    select
        cast(cv.evaluation_year as integer) as year,
        max(case when p.pillar_code = 'MGT' then p.pillar_weight end) as w_mgt,
        max(case when p.pillar_code = 'PRO' then p.pillar_weight end) as w_pro,
        max(case when p.pillar_code = 'UTL' then p.pillar_weight end) as w_utl,
        max(case when p.pillar_code = 'QLT' then p.pillar_weight end) as w_qlt,
        max(case when p.pillar_code = 'ENV' then p.pillar_weight end) as w_env
    from {{ ref('catalog_versions') }} as cv
    inner join {{ ref('pillars') }} as p on p.catalog_version = cv.catalog_version
    group by cv.evaluation_year
),

cycles as (
    select
        coalesce(c.unit_code, u.unit_code) as unit_code,
        coalesce(c.cycle_first_year, u.cycle_first_year) as cycle_first_year,
        coalesce(c.cycle_last_year, u.cycle_last_year) as cycle_last_year,
        c.programme_code,
        c.last_evaluated_year,
        c.is_cut_short,
        case
            when c.unit_code is null then 'not_on_calendar'
            when u.unit_code is null then 'pending'
            else 'received'
        end as status,
        u.evaluator,
        u.report_version,
        cast(u.versions_received as integer) as versions_received,
        u.evaluated_on,
        u.score_mgt,
        u.score_pro,
        u.score_utl,
        u.score_qlt,
        u.score_env,
        u.site_visit_score,
        u.site_visit_date,
        u.document_review_score,
        u.findings,
        u.site_visit_findings,
        u.document_review_findings,
        u.source_file,
        u.file_hash,
        u.ingested_at,
        u.report_conflict_rows,
        u.report_conflict_detail
    from calendar_cycles as c
    full outer join current_upload as u
        on u.unit_code = c.unit_code
        and u.cycle_first_year = c.cycle_first_year
        and u.cycle_last_year = c.cycle_last_year
),

scored as (
    select
        c.*,
        (c.score_mgt * w.w_mgt + c.score_pro * w.w_pro + c.score_utl * w.w_utl + c.score_qlt * w.w_qlt
            + c.score_env * w.w_env) / (w.w_mgt + w.w_pro + w.w_utl + w.w_qlt + w.w_env) as pillar_score
    from cycles as c
    left join pillar_weights as w on w.year = c.cycle_last_year
)

select
    s.unit_code,
    d.unit_name,
    d.province_code,
    s.programme_code,
    s.cycle_first_year,
    s.cycle_last_year,
    {{ year_range('s.cycle_first_year', 's.cycle_last_year') }} as cycle,
    s.last_evaluated_year,
    -- complete: the calendar reaches the cycle's last year and no other cycle of the unit took part of it
    coalesce(s.last_evaluated_year >= s.cycle_last_year and not s.is_cut_short, false) as cycle_complete,
    s.status,
    l.name_zh as status_label_zh,
    l.name_en as status_label_en,
    s.evaluator,
    s.report_version,
    coalesce(s.versions_received, 0) as versions_received,
    s.evaluated_on,
    s.score_mgt,
    s.score_pro,
    s.score_utl,
    s.score_qlt,
    s.score_env,
    s.pillar_score,
    s.site_visit_score,
    s.site_visit_date,
    s.document_review_score,
    case when s.status <> 'pending' then
        r.pillar_share * s.pillar_score + r.site_visit_share * s.site_visit_score
        + r.document_review_share * s.document_review_score
    end as third_party_score,
    r.third_party_weight,
    s.findings,
    s.site_visit_findings,
    s.document_review_findings,
    s.source_file,
    s.file_hash,
    s.ingested_at,
    r.rules_version,
    -- the current report was loaded more than once with different scores (stg_raw__third_party_evaluations):
    -- the score shown is the one the rules picked, never silently; the rows, files and scores are named
    coalesce(s.report_conflict_rows, 0) > 0 as report_conflict,
    s.report_conflict_detail
from scored as s
left join rules as r on r.evaluation_year = coalesce(s.last_evaluated_year, s.cycle_last_year)
left join {{ ref('dim_city') }} as d on d.unit_code = s.unit_code
-- the status labels are the labels seed's third_party_status list (codes third_party_<status>)
left join {{ ref('labels') }} as l on l.code = {{ dbt.concat(["'third_party_'", "s.status"]) }}
