{{ config(materialized=ephemeral_except_on_spark()) }}
-- Carries rectification across cycles. A city is "rectification or worse" (R) in cycle c when it was put in
-- rectification in c, or was R in c-1 and did not improve in c. Unrolled, R(c) holds exactly when the latest
-- cycle with a rectification signal is not older than the latest cycle with an improvement, which two running
-- maxima express without recursion. Exit candidates (X1) are cities that were R in the previous cycle and
-- have not improved: their composite index did not rise by more than X1.improve_min_points since the cycle's
-- baseline year (as published nor, across a catalogue change, like-for-like: GEN.change_like_for_like) and
-- (with X1.require_still_flagged = 1) a watch rule still fires.
with params as (
  select * from {{ ref('int_evaluation_params_year') }}
),

signals as (
  select * from {{ ref('int_evaluation_signals_year') }}
  where cycle_start is not null
),

last_year as (
  select unit_code, cycle_start, max(year) as last_year
  from signals
  group by unit_code, cycle_start
),

per_cycle as (
  select
    s.unit_code,
    s.cycle_start,
    max(s.cycle_end) as cycle_end,
    max(l.last_year) as last_year,
    -- only a sanctioned (robust) rectification carries into the next cycle; a non-robust one is a review
    -- (人工复核) and cannot lead to an exit candidacy. Without uncertainty runs the rules' stage stands.
    max(case when (s.r1 or s.r2) and coalesce(s.rectification_robust, true) then 1 else 0 end) = 1 as rect_signal,
    sum(case when s.is_watch then 1 else 0 end) as watch_years,
    max(case when s.year = l.last_year then s.index_change_cycle end) as end_index_change,
    -- the change rose (X1's improvement: as published or, across a catalogue change under GEN.change_like_for_like,
    -- like-for-like; int_evaluation_signals_year), judged in the cycle's last evaluated year
    max(case when s.year = l.last_year and s.x1_change_improved then 1 else 0 end) = 1 as end_change_improved,
    -- X1 is judged in the cycle's last evaluated year (methodology §10): what counts is whether a watch rule
    -- still fires then, not whether one fired earlier in the cycle
    max(case when s.year = l.last_year and s.is_watch then 1 else 0 end) = 1 as watch_at_end
  from signals as s
  inner join last_year as l on l.unit_code = s.unit_code and l.cycle_start = s.cycle_start
  group by s.unit_code, s.cycle_start
),

improvement as (
  select
    c.*,
    c.end_change_improved
      or (p.x1_require_still_flagged = 1 and not c.watch_at_end) as improved
  from per_cycle as c
  -- judged by the rules in force in the cycle's last evaluated year, as X1 in that year's row
  inner join params as p on p.evaluation_year = c.last_year
),

running as (
  select
    c.*,
    max(case when c.rect_signal then c.cycle_start end)
      over (partition by c.unit_code order by c.cycle_start nulls last
            rows between unbounded preceding and current row) as last_rect_cycle,
    max(case when c.improved then c.cycle_start end)
      over (partition by c.unit_code order by c.cycle_start nulls last
            rows between unbounded preceding and current row) as last_improved_cycle
  from improvement as c
),

chained as (
  select
    r.*,
    r.last_rect_cycle is not null
      and (r.last_improved_cycle is null or r.last_improved_cycle <= r.last_rect_cycle) as rect_or_worse
  from running as r
)

select
  ch.unit_code,
  ch.cycle_start,
  ch.cycle_end,
  ch.rect_signal,
  ch.end_index_change,
  ch.end_change_improved,
  ch.watch_at_end,
  ch.improved,
  ch.rect_or_worse,
  -- the previous cycle must be the one immediately before; a gap (e.g. a city not evaluated for a whole cycle)
  -- does not carry rectification forward. Cycles come from the unit's calendar (int_programme_unit_years): when
  -- a new programme's calendar takes over (a 2012 demonstration city joining the 2022 strong-city cohort), the
  -- previous cycle may end inside the new one, which still makes it the immediately preceding cycle.
  case when lag(ch.cycle_end) over (partition by ch.unit_code order by ch.cycle_start nulls last)
            >= ch.cycle_start - 1
       then lag(ch.rect_or_worse) over (partition by ch.unit_code order by ch.cycle_start nulls last)
       else false end as prev_rect_or_worse
from chained as ch
