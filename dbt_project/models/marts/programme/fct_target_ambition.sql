-- How ambitious every construction-plan target is (issue 17; docs/methodology.md "Target ambition").
-- required_growth: the compound annual growth the target needs from its baseline (signed so that positive
--   is improvement: for a lower-is-better indicator a required fall counts as positive growth).
-- trend_growth: the city's own compound annual growth over the AMB.trend_years years ending in the baseline
--   year (observed values only; a shorter span when the data start later, null without two observed years).
-- peer growth: the REAL growth peer cities achieved over the same years (baseline year to the target year, or
--   to the last observed year when the target year is not reached yet). Peers share the city's performance
--   group in the baseline year and its province; with fewer than AMB.min_peers such cities the benchmark
--   falls back to the same group nationally (peer_scope says which).
-- ambition_class: unambitious when the required growth exceeds neither benchmark (own trend, peers' median)
--   by more than AMB.unambitious_margin; unrealistic when it exceeds both the own trend and the peers' 90th
--   percentile by more than AMB.unrealistic_margin; stretch in between; not_assessable without a benchmark
--   or without a positive baseline. ambition_weight is the weight the acceptance score gives the target's
--   achievement (AMB.unambitious_weight for unambitious targets, 1 otherwise).
with rules as (
    select
        max(cast(rules_version as string)) as rules_version,
        cast(max(case when rule_code = 'AMB' and param = 'trend_years' then value end) as integer) as trend_years,
        cast(max(case when rule_code = 'AMB' and param = 'min_peers' then value end) as integer) as min_peers,
        cast(max(case when rule_code = 'AMB' and param = 'unambitious_margin' then value end) as double)
            as unambitious_margin,
        cast(max(case when rule_code = 'AMB' and param = 'unrealistic_margin' then value end) as double)
            as unrealistic_margin,
        cast(max(case when rule_code = 'AMB' and param = 'unambitious_weight' then value end) as double)
            as unambitious_weight
    from {{ ref('evaluation_rules') }}
),

indicators as (
    select
        indicator_code,
        max(direction) as direction,
        max(case when is_key_indicator then 1 else 0 end) = 1 as is_key_indicator
    from {{ ref('dim_indicator') }}
    group by indicator_code
),

observed as (
    select unit_code, indicator_code, year, raw_value
    from {{ ref('fct_city_indicator_year') }}
    where raw_value is not null
),

units as (
    select unit_code, province_code from {{ ref('int_units') }}
    where peer_group = 'city'
),

-- the last year the peers (cities) have data: province statistics run on their own, longer window and must not
-- push the peer window past the cities' data (no peer would have a value, and a recomputation of a released
-- year on its window would class the target differently)
last_observed as (
    select o.indicator_code, max(o.year) as last_year
    from observed as o
    inner join units as u on u.unit_code = o.unit_code
    group by o.indicator_code
),

groups as (
    select unit_code, year, performance_group
    from {{ ref('fct_city_score_year') }}
    where performance_group is not null
),

targets as (
    select
        t.unit_code,
        t.plan_id,
        t.indicator_code,
        t.baseline_year,
        t.baseline_value,
        t.target_year,
        t.target_value,
        coalesce(i.direction, 'higher') as direction,
        coalesce(i.is_key_indicator, false) as is_key_indicator,
        case when i.direction = 'lower' then -1.0 else 1.0 end as sign,
        u.province_code,
        g.performance_group as baseline_group,
        case when lo.last_year < t.target_year then lo.last_year else t.target_year end as peer_last_year,
        t.baseline_year - r.trend_years as trend_first_year
    from {{ ref('stg_raw__targets') }} as t
    cross join rules as r
    left join indicators as i on i.indicator_code = t.indicator_code
    left join units as u on u.unit_code = t.unit_code
    left join groups as g on g.unit_code = t.unit_code and g.year = t.baseline_year
    left join last_observed as lo on lo.indicator_code = t.indicator_code
),

trend_start as (
    select t.unit_code, t.plan_id, t.indicator_code, min(o.year) as trend_start_year
    from targets as t
    inner join observed as o
        on o.unit_code = t.unit_code
        and o.indicator_code = t.indicator_code
        and o.year >= t.trend_first_year
        and o.year < t.baseline_year
        and o.raw_value > 0
    group by t.unit_code, t.plan_id, t.indicator_code
),

trend as (
    select
        s.unit_code,
        s.plan_id,
        s.indicator_code,
        s.trend_start_year,
        t.sign * (power(b.raw_value / a.raw_value,
            1.0 / cast(t.baseline_year - s.trend_start_year as double)) - 1) as trend_growth
    from trend_start as s
    inner join targets as t
        on t.unit_code = s.unit_code and t.plan_id = s.plan_id and t.indicator_code = s.indicator_code
    inner join observed as a
        on a.unit_code = s.unit_code and a.indicator_code = s.indicator_code and a.year = s.trend_start_year
    inner join observed as b
        on b.unit_code = s.unit_code and b.indicator_code = s.indicator_code and b.year = t.baseline_year
    where b.raw_value > 0
),

peer_growth as (
    -- every candidate peer's real growth over the target's years, with whether it shares the province
    select
        t.unit_code,
        t.plan_id,
        t.indicator_code,
        (pu.province_code = t.province_code) as same_province,
        t.sign * (power(e.raw_value / s.raw_value,
            1.0 / cast(t.peer_last_year - t.baseline_year as double)) - 1) as growth
    from targets as t
    inner join groups as pg
        on pg.year = t.baseline_year
        and pg.performance_group = t.baseline_group
        and pg.unit_code <> t.unit_code
    inner join units as pu on pu.unit_code = pg.unit_code
    inner join observed as s
        on s.unit_code = pg.unit_code and s.indicator_code = t.indicator_code and s.year = t.baseline_year
    inner join observed as e
        on e.unit_code = pg.unit_code and e.indicator_code = t.indicator_code and e.year = t.peer_last_year
    where t.peer_last_year > t.baseline_year
        and s.raw_value > 0
        and e.raw_value > 0
),

peer_stats as (
    select
        unit_code,
        plan_id,
        indicator_code,
        'province' as scope,
        count(*) as n_peers,
        {{ median_of('growth') }} as median_growth,
        {{ quantile_of('growth', 0.9) }} as p90_growth
    from peer_growth
    where same_province
    group by unit_code, plan_id, indicator_code
    union all
    select
        unit_code,
        plan_id,
        indicator_code,
        'national' as scope,
        count(*) as n_peers,
        {{ median_of('growth') }} as median_growth,
        {{ quantile_of('growth', 0.9) }} as p90_growth
    from peer_growth
    group by unit_code, plan_id, indicator_code
),

benchmarks as (
    select
        t.*,
        tr.trend_start_year,
        tr.trend_growth,
        case
            when pp.n_peers >= r.min_peers then 'province_group'
            when pn.n_peers >= r.min_peers then 'national_group'
        end as peer_scope,
        case
            when pp.n_peers >= r.min_peers then pp.n_peers
            when pn.n_peers >= r.min_peers then pn.n_peers
        end as n_peers,
        case
            when pp.n_peers >= r.min_peers then pp.median_growth
            when pn.n_peers >= r.min_peers then pn.median_growth
        end as peer_median_growth,
        case
            when pp.n_peers >= r.min_peers then pp.p90_growth
            when pn.n_peers >= r.min_peers then pn.p90_growth
        end as peer_p90_growth,
        case
            when t.baseline_value > 0 and t.target_value > 0 and t.target_year > t.baseline_year then
                t.sign * (power(t.target_value / t.baseline_value,
                    1.0 / cast(t.target_year - t.baseline_year as double)) - 1)
        end as required_growth
    from targets as t
    cross join rules as r
    left join trend as tr
        on tr.unit_code = t.unit_code and tr.plan_id = t.plan_id and tr.indicator_code = t.indicator_code
    left join peer_stats as pp
        on pp.unit_code = t.unit_code and pp.plan_id = t.plan_id and pp.indicator_code = t.indicator_code
        and pp.scope = 'province'
    left join peer_stats as pn
        on pn.unit_code = t.unit_code and pn.plan_id = t.plan_id and pn.indicator_code = t.indicator_code
        and pn.scope = 'national'
),

compared as (
    select
        b.*,
        -- the higher of the available typical benchmarks (own trend, peers' median) ...
        case
            when b.trend_growth is null then b.peer_median_growth
            when b.peer_median_growth is null then b.trend_growth
            when b.trend_growth > b.peer_median_growth then b.trend_growth
            else b.peer_median_growth
        end as typical_benchmark,
        -- ... and of the high ones (own trend, peers' 90th percentile)
        case
            when b.trend_growth is null then b.peer_p90_growth
            when b.peer_p90_growth is null then b.trend_growth
            when b.trend_growth > b.peer_p90_growth then b.trend_growth
            else b.peer_p90_growth
        end as high_benchmark
    from benchmarks as b
),

classified as (
    select
        c.*,
        case
            when c.required_growth is null then 'not_assessable'
            when c.typical_benchmark is null then 'not_assessable'
            when c.required_growth <= c.typical_benchmark + r.unambitious_margin then 'unambitious'
            when c.required_growth > c.high_benchmark + r.unrealistic_margin then 'unrealistic'
            else 'stretch'
        end as ambition_class,
        r.unambitious_weight,
        r.rules_version
    from compared as c
    cross join rules as r
)

select
    unit_code,
    province_code,
    plan_id,
    indicator_code,
    direction,
    is_key_indicator,
    baseline_year,
    baseline_value,
    target_year,
    target_value,
    required_growth,
    trend_start_year,
    trend_growth,
    required_growth - trend_growth as excess_over_trend,
    baseline_group,
    peer_scope,
    cast(n_peers as integer) as n_peers,
    baseline_year as peer_first_year,
    case when peer_scope is not null then peer_last_year end as peer_last_year,
    peer_median_growth,
    peer_p90_growth,
    required_growth - peer_median_growth as excess_over_peers,
    ambition_class,
    case when ambition_class = 'unambitious' then unambitious_weight else 1.0 end as ambition_weight,
    rules_version
from classified
