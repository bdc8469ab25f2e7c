-- The programme calendar seed with its defaults resolved, one definition for every model that reads it
-- (int_programme_memberships, dim_programme). The open-ended demonstration-city calendar leaves its anchor and
-- its cycle length empty in seeds/programme_calendar.csv: both come from the rules seed (GEN.cycle_anchor_year,
-- GEN.cycle_length), so the three-year cycle of 国知发管字〔2016〕86号 ("每三年期开展一轮第三方评估") is stated
-- once, in the rules seed that the Python side (pipelines.evaluation.rules) reads too. A fixed-period cohort
-- (strong-city 2022-08: July 2022 - June 2025) states its own anchor and length.
with calendar as (
    select * from {{ ref('programme_calendar') }}
),

-- The defaults of the rules version in force in the year the cohort's calendar starts (its first evaluation
-- year, else its period's first year): a max over every version mixed one version's anchor with another's length,
-- and a later version's value rewrote the cycles of years judged under an earlier one.
rules_defaults as (
    select evaluation_year, gen_cycle_anchor_year as cycle_anchor_year, gen_cycle_length as cycle_length
    from {{ ref('int_evaluation_params_year') }}
)

select
    c.programme_code,
    c.cohort,
    c.programme_name_zh,
    c.programme_name_en,
    c.period_start,
    c.period_end,
    c.first_evaluation_year,
    c.last_evaluation_year,
    coalesce(c.cycle_anchor_year, d.cycle_anchor_year) as cycle_anchor_year,
    coalesce(c.cycle_length, d.cycle_length) as cycle_length,
    c.acceptance_scored,
    c.numbers_pilot_rounds,
    c.units_announced,
    c.notice,
    c.calendar_note_en,
    c.calendar_note_zh
from calendar as c
left join rules_defaults as d
    on d.evaluation_year = coalesce(c.first_evaluation_year, {{ year_of('c.period_start') }})
