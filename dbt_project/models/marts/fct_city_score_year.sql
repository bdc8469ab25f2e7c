-- Pillar scores, composite, composite index (average of the ranked programme units = 100), rank, performance
-- group and year-on-year change, for every city unit and year of the evaluation window.
-- is_evaluated: a programme unit evaluated that year (on the roster, not withdrawn); is_ranked: evaluated and
-- with a composite. The programme average (int_programme_average_year) is stored with every row.
-- Non-programme units are scored on the same scale (index relative to the same programme average, rank_all)
-- so the national map can show every city, but get no programme rank.
with composite as (
    select * from {{ ref('int_composite') }}
),

evaluated as (
    select unit_code, year, is_evaluated from {{ ref('int_programme_unit_years') }}
),

flagged as (
    select
        c.*,
        coalesce(e.is_evaluated, false) as is_evaluated,
        (coalesce(e.is_evaluated, false) and c.composite is not null) as is_ranked
    from composite as c
    left join evaluated as e
        on e.unit_code = c.unit_code
        and e.year = c.year
),

programme_average as (
    select year, average_composite, n_ranked
    from {{ ref('int_programme_average_year') }}
),

indexed as (
    select
        f.*,
        a.n_ranked,
        a.average_composite,
        case when f.composite is not null and a.average_composite > 0
             then 100.0 * f.composite / a.average_composite end as composite_index
    from flagged as f
    left join programme_average as a on a.year = f.year
),

ranked as (
    select
        i.*,
        case when i.is_ranked then
            row_number() over (
                partition by i.year, i.is_ranked
                order by i.composite desc nulls last, i.unit_code asc nulls last
            )
        end as rank,
        case when i.composite is not null then
            row_number() over (
                partition by i.year, (i.composite is not null)
                order by i.composite desc nulls last, i.unit_code asc nulls last
            )
        end as rank_all,
        {{ performance_group('i.composite_index') }} as performance_group
    from indexed as i
),

thirds as (
    select
        r.*,
        case when r.is_ranked then
            ntile(3) over (
                partition by r.year, r.is_ranked, r.performance_group
                order by r.composite desc nulls last, r.unit_code asc nulls last
            )
        end as third_number
    from ranked as r
),

with_previous as (
    select
        t.*,
        lag(t.year) over (partition by t.unit_code order by t.year nulls last) as prev_year,
        lag(t.composite_index) over (partition by t.unit_code order by t.year nulls last) as prev_index,
        lag(t.rank) over (partition by t.unit_code order by t.year nulls last) as prev_rank
    from thirds as t
)

select
    unit_code,
    year,
    catalog_version,
    score_mgt,
    score_pro,
    score_utl,
    score_qlt,
    score_env,
    composite,
    indicator_coverage,
    composite_index,
    average_composite as programme_average_composite,
    rank,
    case when is_ranked then n_ranked end as n_ranked,
    rank_all,
    case when is_ranked then performance_group end as performance_group,
    case third_number when 1 then 'upper' when 2 then 'middle' when 3 then 'lower' end as group_third,
    performance_group as performance_group_all,
    case when prev_year = year - 1 then composite_index - prev_index end as index_change,
    -- positive = moved up the ranking
    case when prev_year = year - 1 and is_ranked then prev_rank - rank end as rank_change,
    is_evaluated,
    is_ranked
from with_previous
