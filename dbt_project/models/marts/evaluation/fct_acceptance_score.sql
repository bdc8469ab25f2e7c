{{ config(materialized='table') }}
-- Acceptance score 验收评分 (0-100) per programme unit and cycle, ABSOLUTE: unlike the composite index (programme
-- mean = 100, which always flags someone however well all cities do), it measures the city against its own
-- construction-plan targets and against national levels, as the management measures judge a pilot city at
-- acceptance: < 60 title removed (no re-application for two years), 60-70 a new pilot round, >= 70
-- demonstration cultivation. Judged at the cycle's last evaluated year with the rules in force then.
--   target_points = mean over the unit's plan targets evaluable that year of 100 x clamp(growth_ratio, 0, 1)
--                   (achieved = 100): the observed pace as a share of the pace the plan requires (§7)
--   level_points  = mean over the benchmark indicators (ACC: QLT01, QLT03, ENV03) of
--                   100 x min(1, city value / national value / ACC.level_full_ratio), both of the benchmark year:
--                   the latest national statistics year <= the cycle's last year (benchmark_year; national = unit
--                   000000). The city's value of that same year, never its later one: a city's 2024 value against
--                   the 2023 national level gave it a year's growth the nation was not credited with.
--   indicator_score = (ACC.target_weight x target_points + ACC.level_weight x level_points) / weights present
-- Target ambition (issue 17): each target's points weigh AMB.unambitious_weight when marts.fct_target_ambition
-- classes the target 'unambitious' (its required growth does not exceed the city's own trend or its peers'
-- real growth), 1 otherwise: target_points = sum(weight x points) / sum(weight).
-- Third-party evaluation (issue 17): with the evaluator's upload for the cycle (fct_evaluation_cycle)
--   acceptance_score = (1 - TP.third_party_weight) x indicator_score + TP.third_party_weight x third_party_score
-- and the band is read from that combined score. Without an upload, TP.pending_blocks_verdict = 1 leaves the
-- acceptance score and band null with acceptance_status 'third_party_pending' (never a silent indicator-only
-- band); = 0 (or a weight of 0) uses the indicator score, marked 'indicator_only'.
-- The band compares the score rounded at 9 decimals (float noise of the weighted sums is ~1e-14) with the rules:
-- < ACC.remove_below title_removed, < ACC.cultivation_from new_pilot_round, else demonstration_cultivation.
-- A cycle still running (fct_evaluation_cycle.judged_year null: its last year has no data and no other cycle has
-- taken over) is not judged: acceptance_status cycle_running, no judged_year, score and band null -- an evaluator's
-- early upload must not turn the data to date into "title removed". indicator_score is the figure to date.
-- A cycle whose verdict is not_reported (a year's report not received within RPT.grace_months: counts as exit) is
-- not judged at acceptance either: acceptance_status not_reported_exit, score and band null.
-- A cycle that ended before its last year (judged_year < cycle_end: cut short by a promotion onto another calendar
-- -- 南通 320600's pilot 2022-2024 ends in 2023 -- or by a withdrawal) never reached its acceptance: status
-- ended_before_acceptance, score and band null (the labels seed says so in both languages); the cycle verdict
-- (fct_evaluation_cycle) still judges it. indicator_score stays as the figure to date.
-- The national statistics lag (the sample's end in 2023), so the benchmark year can be earlier than the year judged:
-- benchmark_lag_years says by how much, and the dossier states it. A benchmark year before the cycle's FIRST year
-- compares a level the city had before its construction period began -- nothing the cycle did -- so such a cycle
-- is not banded: acceptance_status benchmark_before_cycle (labels seed, zh/en), score and band null until the
-- national statistics reach the cycle. A lag inside the cycle is the latest evidence the rules can use: banded,
-- flagged.
with params as (
  select * from {{ ref('int_evaluation_params_year') }}
),

cycles as (
  select unit_code, unit_name, cycle, cycle_start, cycle_end, is_complete, judged_year, verdict, verdict_status,
         third_party_status, third_party_score, third_party_evaluator, third_party_report_version
  from {{ ref('fct_evaluation_cycle') }}
),

-- Whether the programme governing the cycle's last year judges at acceptance (the calendar's acceptance_scored):
-- the management measures' bands judge a pilot or a strong-city unit at the end of its construction period; an
-- open-ended demonstration-city title (demo_city) has no acceptance, so its cycles keep their score (an absolute
-- measure beside the third-party evaluation every city gets) but no band -- 17 demonstration-city cycles of the
-- sample read "title removed", a verdict no rule gives them, and alerted on it.
governing_programme as (
  select unit_code, year, acceptance_scored, programme_code, cohort
  from {{ ref('int_programme_unit_years') }}
),

-- The roster (int_programme_memberships; the policy simulator writes it from the published mart): the governing
-- membership's period end dates a title removed at acceptance; a later joining is checked against the ban. Not the
-- mart, which reads this model's removals (macro joined_within_removal_ban) and so is built after it.
memberships as (
  select unit_code, programme_code, cohort, joined_on, period_end, numbers_pilot_rounds
  from {{ ref('int_programme_memberships') }}
),

-- programmes with numbered pilot rounds: data (seed programme_calendar.numbers_pilot_rounds), not a code in SQL
pilot_programmes as (
  select distinct programme_code
  from memberships
  where numbers_pilot_rounds
),

last_years as (
  select e.unit_code, e.cycle_start, max(e.year) as last_year
  from {{ ref('fct_evaluation_year') }} as e
  where e.cycle_start is not null
  group by e.unit_code, e.cycle_start
),

target_points as (
  select
    l.unit_code, l.cycle_start,
    case when a.ambition_class = 'unambitious' then p.amb_unambitious_weight else 1.0 end as ambition_weight,
    case when a.ambition_class = 'unambitious' then 1 else 0 end as is_unambitious,
    case when t.status = 'achieved' then 100.0
         when t.growth_ratio is null then 0.0
         when t.growth_ratio <= 0 then 0.0
         when t.growth_ratio >= 1 then 100.0
         else 100.0 * t.growth_ratio end as points
  from last_years as l
  inner join params as p on p.evaluation_year = l.last_year
  inner join {{ ref('fct_target_status_year') }} as t on t.unit_code = l.unit_code and t.year = l.last_year
  left join {{ ref('fct_target_ambition') }} as a
    on a.unit_code = t.unit_code and a.plan_id = t.plan_id and a.indicator_code = t.indicator_code
  where t.status not in ('insufficient_data', 'invalid_target')
),

targets as (
  select
    unit_code, cycle_start,
    cast(count(*) as integer) as targets_evaluable,
    cast(sum(is_unambitious) as integer) as targets_unambitious,
    sum(ambition_weight * points) / nullif(sum(ambition_weight), 0) as target_points
  from target_points
  group by unit_code, cycle_start
),

benchmark_year as (
  select l.unit_code, l.cycle_start, l.last_year, max(n.year) as benchmark_year
  from last_years as l
  inner join {{ ref('fct_national_benchmark') }} as n on n.year <= l.last_year
  group by l.unit_code, l.cycle_start, l.last_year
),

-- One row per benchmark indicator of the rules (ACC.level_indicators with a national value), the unit's value or
-- none: a level indicator without a value is left out of level_points (the mean is over the indicators present,
-- as a pillar's weights are renormalised), and level_detail / level_indicators_missing say so -- a city reads
-- which figures its level points stand on, and which were not counted, instead of finding a mean of two.
level_rows as (
  select
    b.unit_code, b.cycle_start, b.benchmark_year, n.indicator_code, n.value as national_value,
    v.value as city_value,
    -- the value used is the previous year's carried forward (fct_city_indicator_year.is_imputed): said in
    -- level_detail, or the city reads an imputed figure as one it reported
    coalesce(v.is_imputed, false) as is_imputed,
    case when v.value is null then null
         when v.value / n.value / p.acc_level_full_ratio >= 1 then 100.0
         when v.value <= 0 then 0.0
         else 100.0 * v.value / n.value / p.acc_level_full_ratio end as points
  from benchmark_year as b
  inner join params as p on p.evaluation_year = b.last_year
  inner join {{ ref('fct_national_benchmark') }} as n on n.year = b.benchmark_year
  left join {{ ref('fct_city_indicator_year') }} as v
    on v.unit_code = b.unit_code and v.year = b.benchmark_year and v.indicator_code = n.indicator_code
  where concat_ws('', ',', p.acc_level_indicators, ',') like concat_ws('', '%,', n.indicator_code, ',%')
    and n.value > 0
),

levels as (
  select
    unit_code, cycle_start, max(benchmark_year) as benchmark_year,
    case when count(points) > 0 then cast(count(points) as integer) end as level_indicators,
    avg(points) as level_points,
    max(case when indicator_code = 'QLT01' then city_value end) as qlt01_value,
    max(case when indicator_code = 'QLT01' then national_value end) as qlt01_national,
    {{ dbt.listagg(
      "concat_ws('', indicator_code, ' ', coalesce(cast(" ~ round_half_away('city_value', 4) ~ " as string), '–'),
        case when is_imputed then concat_ws('', ' [', (select l.name_zh from " ~ ref('labels') ~ " as l
          where l.code = 'level_value_imputed'), ' / ', (select l.name_en from " ~ ref('labels') ~ " as l
          where l.code = 'level_value_imputed'), ']') else '' end, ' / ',
        cast(" ~ round_half_away('national_value', 4) ~ " as string), ' = ',
        coalesce(cast(" ~ round_half_away('points', 2) ~ " as string), 'not counted (no value)'))",
      "'; '", "order by indicator_code") }} as level_detail,
    {{ dbt.listagg("case when points is null then indicator_code end", "', '", "order by indicator_code") }}
      as level_indicators_missing,
    {{ dbt.listagg("case when is_imputed and points is not null then indicator_code end", "', '",
      "order by indicator_code") }} as level_indicators_imputed
  from level_rows
  group by unit_code, cycle_start
),

scored as (
  select
    c.unit_code, c.unit_name, c.cycle, c.cycle_start, c.cycle_end, l.last_year, c.is_complete, c.judged_year,
    c.verdict,
    c.verdict_status, c.third_party_status, c.third_party_score, c.third_party_evaluator,
    c.third_party_report_version,
    t.target_points, t.targets_evaluable, t.targets_unambitious, v.level_points, v.level_indicators,
    v.benchmark_year, v.qlt01_value, v.qlt01_national, v.level_detail, v.level_indicators_missing,
    v.level_indicators_imputed,
    p.acc_target_weight, p.acc_level_weight, p.acc_remove_below, p.acc_cultivation_from, p.rules_version,
    p.amb_unambitious_weight, p.tp_third_party_weight, p.tp_pending_blocks_verdict,
    coalesce(g.acceptance_scored, true) as acceptance_scored,
    g.programme_code as governing_programme_code,
    g.cohort as governing_cohort,
    p.acc_reapply_ban_years,
    p.acc_max_pilot_rounds,
    (coalesce(p.acc_target_weight * t.target_points, 0) + coalesce(p.acc_level_weight * v.level_points, 0))
      / nullif(case when t.target_points is not null then p.acc_target_weight else 0 end
               + case when v.level_points is not null then p.acc_level_weight else 0 end, 0)
      as indicator_score
  from cycles as c
  inner join last_years as l on l.unit_code = c.unit_code and l.cycle_start = c.cycle_start
  inner join params as p on p.evaluation_year = l.last_year
  left join governing_programme as g on g.unit_code = c.unit_code and g.year = l.last_year
  left join targets as t on t.unit_code = c.unit_code and t.cycle_start = c.cycle_start
  left join levels as v on v.unit_code = c.unit_code and v.cycle_start = c.cycle_start
),

combined as (
  select
    s.*,
    case
      when s.judged_year is null then 'cycle_running'
      -- not reporting within the grace period in a year of the cycle counts as exit (management measures; the
      -- cycle's verdict not_reported): the cycle is not banded -- its data to date and an evaluator's report gave
      -- "demonstration cultivation" beside the exit verdict of the same cycle
      when s.verdict = 'not_reported' then 'not_reported_exit'
      when s.judged_year < s.cycle_end then 'ended_before_acceptance'
      when s.benchmark_year < s.cycle_start then 'benchmark_before_cycle'
      when s.indicator_score is null then 'insufficient_data'
      when s.third_party_status = 'received' and s.tp_third_party_weight > 0 then 'combined'
      when s.tp_third_party_weight is null or s.tp_third_party_weight <= 0 then 'indicator_only'
      when s.tp_pending_blocks_verdict = 1 then 'third_party_pending'
      else 'indicator_only'
    end as acceptance_status
  from scored as s
),

final_score as (
  select
    c.*,
    -- rounded at 9 decimals before it is banded and published: a score that is exactly 60 or 70 in decimal
    -- arithmetic (0.7 x 48 + 0.3 x 88) but 59.99999999999999 in doubles meets the threshold, while any real
    -- difference (59.99, 59.9999999) still counts
    {{ round_half_away("case c.acceptance_status
      when 'combined' then (1 - c.tp_third_party_weight) * c.indicator_score
        + c.tp_third_party_weight * c.third_party_score
      when 'indicator_only' then c.indicator_score
    end", 9) }} as acceptance_score
  from combined as c
),

-- Pilot rounds (第N轮试点): a strong-city pilot scoring in the new-pilot-round band gets a new pilot round, and the
-- measures do not say what a second such score means -- before, it read "new pilot round" again, round after round.
-- The round judged is numbered from the roster (the unit's pilot memberships joined up to the governing one: the
-- office records each new round as a new pilot membership) and from the acceptance history (one more than the unit's
-- earlier pilot cycles scored in the new-pilot-round band, for a round the roster has not recorded as a new row);
-- the larger wins. The office's rule ACC.max_pilot_rounds (rules seed, a parameter): in round N >= it, a score in
-- the new-pilot-round band removes the title (pilot_rounds_exhausted), with the re-application ban that follows.
roster_round as (
  select f.unit_code, f.cycle_start, count(m2.unit_code) as roster_round
  from final_score as f
  inner join memberships as m
    on m.unit_code = f.unit_code and m.programme_code = f.governing_programme_code and m.cohort = f.governing_cohort
  inner join memberships as m2
    on m2.unit_code = f.unit_code and m2.programme_code = m.programme_code and m2.joined_on <= m.joined_on
  where m.numbers_pilot_rounds
  group by f.unit_code, f.cycle_start
),

history_round as (
  select f.unit_code, f.cycle_start, 1 + count(e.unit_code) as history_round
  from final_score as f
  left join final_score as e
    on e.unit_code = f.unit_code and e.cycle_end < f.cycle_start
    and e.governing_programme_code = f.governing_programme_code and e.acceptance_scored
    and e.acceptance_score >= e.acc_remove_below and e.acceptance_score < e.acc_cultivation_from
  where f.governing_programme_code in (select p.programme_code from pilot_programmes as p)
  group by f.unit_code, f.cycle_start
),

with_round as (
  select
    f.*,
    case when h.unit_code is not null
      then greatest(coalesce(r.roster_round, 1), h.history_round) end as pilot_round
  from final_score as f
  left join roster_round as r on r.unit_code = f.unit_code and r.cycle_start = f.cycle_start
  left join history_round as h on h.unit_code = f.unit_code and h.cycle_start = f.cycle_start
),

banded as (
  select
    f.*,
    coalesce(
      f.acceptance_scored and f.acceptance_score >= f.acc_remove_below
      and f.acceptance_score < f.acc_cultivation_from and f.pilot_round >= f.acc_max_pilot_rounds, false
    ) as pilot_rounds_exhausted,
    case
      when f.acceptance_score is null then null
      when not f.acceptance_scored then null
      when f.acceptance_score < f.acc_remove_below then 'title_removed'
      when f.acceptance_score < f.acc_cultivation_from and f.pilot_round >= f.acc_max_pilot_rounds
        then 'title_removed'
      when f.acceptance_score < f.acc_cultivation_from then 'new_pilot_round'
      else 'demonstration_cultivation'
    end as acceptance_band
  from with_round as f
),

-- Title removed at acceptance (management measures: 撤销称号, 两年内不得再申报; ACC.reapply_ban_years of the rules
-- the band was judged by, the same row as ACC.remove_below). The title ends with the construction period the
-- acceptance closes: the governing membership's period end (2022 batch: 30 June 2025, after the acceptance of the
-- first half of 2025), else the last day of the cycle. The ban counts from then, as a withdrawal's does
-- (int_programme_memberships.reapply_ban_until); the first joining after the cycle is named (rejoined_on) and
-- flagged inside the ban (macro joined_within_removal_ban; the roster flags every such joining).
removal as (
  select
    f.unit_code, f.cycle_start,
    coalesce(m.period_end, cast(concat_ws('', cast(f.cycle_end as string), '-12-31') as date)) as title_removed_on
  from banded as f
  left join memberships as m
    on m.unit_code = f.unit_code and m.programme_code = f.governing_programme_code
    and m.cohort = f.governing_cohort
  where f.acceptance_band = 'title_removed'
),

rejoined as (
  select r.unit_code, r.cycle_start, min(m.joined_on) as rejoined_on
  from removal as r
  inner join banded as f on f.unit_code = r.unit_code and f.cycle_start = r.cycle_start
  inner join memberships as m
    on m.unit_code = r.unit_code
    and m.joined_on > cast(concat_ws('', cast(f.cycle_end as string), '-12-31') as date)
    and not (m.programme_code = f.governing_programme_code and m.cohort = f.governing_cohort)
  group by r.unit_code, r.cycle_start
),

with_ban as (
  select
    f.*,
    r.title_removed_on,
    cast({{ dbt.dateadd('year', 'f.acc_reapply_ban_years', 'r.title_removed_on') }} as date) as reapply_ban_until,
    j.rejoined_on
  from banded as f
  left join removal as r on r.unit_code = f.unit_code and r.cycle_start = f.cycle_start
  left join rejoined as j on j.unit_code = f.unit_code and j.cycle_start = f.cycle_start
)

select
  s.unit_code,
  s.unit_name,
  s.cycle,
  s.cycle_start as cycle_first_year,
  s.cycle_end as cycle_last_year,
  s.judged_year,
  s.last_year as scored_year,
  s.is_complete,
  s.acceptance_status,
  s.indicator_score,
  s.third_party_status,
  s.third_party_score,
  s.tp_third_party_weight as third_party_weight,
  s.third_party_evaluator,
  s.third_party_report_version,
  s.acceptance_score,
  s.acceptance_scored,
  s.acceptance_band,
  s.target_points,
  s.targets_evaluable,
  s.targets_unambitious,
  s.amb_unambitious_weight as unambitious_weight,
  s.level_points,
  s.level_indicators,
  s.level_detail,
  s.level_indicators_missing,
  -- level indicators whose value is the previous year's carried forward (marked in level_detail too)
  s.level_indicators_imputed,
  s.benchmark_year,
  -- years between the benchmark year and the year scored (0 = the same year): the level part's lag
  s.last_year - s.benchmark_year as benchmark_lag_years,
  coalesce(s.benchmark_year < s.cycle_start, false) as benchmark_before_cycle,
  s.qlt01_value,
  s.qlt01_national,
  s.acc_target_weight as target_weight,
  s.acc_level_weight as level_weight,
  s.verdict as cycle_verdict,
  s.verdict_status as cycle_verdict_status,
  s.rules_version,
  -- the day the title removed at acceptance ends (null for any other band), the ban's end and the first joining
  -- after the cycle; rejoined_within_ban: that joining falls inside the ban
  s.title_removed_on,
  s.reapply_ban_until,
  s.rejoined_on,
  coalesce({{ joined_within_removal_ban('s.rejoined_on', 's.cycle_end', 's.reapply_ban_until') }}, false)
    as rejoined_within_ban,
  -- the pilot round judged (第N轮试点; null when the governing programme numbers no pilot rounds), the office's
  -- ACC.max_pilot_rounds and whether the title was removed under it (a score in the new-pilot-round band)
  s.pilot_round,
  s.acc_max_pilot_rounds as max_pilot_rounds,
  s.pilot_rounds_exhausted,
  -- ACC.reapply_ban_years of the rules the band was judged by (null for any other band)
  case when s.title_removed_on is not null then s.acc_reapply_ban_years end as reapply_ban_years
from with_ban as s
