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

-- Rank: standard competition ranking (1, 2, 2, 4) on the composite index AS PUBLISHED (macro published_index:
-- GEN.index_decimals of the rules seed, half up in exact decimals), the figure every page, extract, dossier and
-- alert shows and the one the performance group is read from: two units showing the same figure share a rank,
-- 并列, and are always in the same group, so no city reads its neighbour's identical figure ranked above it. The
-- unit code orders tied rows for display only; it never decides a rank (methodology §6).
keyed as (
    select
        i.*,
        {{ published_index('i.composite_index') }} as rank_key
    from indexed as i
),

ranked as (
    select
        k.*,
        case when k.is_ranked then
            rank() over (
                partition by k.year, k.is_ranked
                order by k.rank_key desc nulls last
            )
        end as rank,
        case when k.composite is not null then
            rank() over (
                partition by k.year, (k.composite is not null)
                order by k.rank_key desc nulls last
            )
        end as rank_all,
        {{ performance_group('k.rank_key') }} as performance_group
    from keyed as k
),

-- group_third: the ranked members of a band in upper / middle / lower thirds, sized as ntile(3) sizes them
-- (with 4 members 2/1/1), a unit placed by the first position of its tie: tied units share a third.
band_positions as (
    select
        r.*,
        case when r.is_ranked then
            rank() over (partition by r.year, r.is_ranked, r.performance_group order by r.rank_key desc nulls last)
        end as band_position,
        case when r.is_ranked then
            count(*) over (partition by r.year, r.is_ranked, r.performance_group)
        end as band_size,
        case when r.is_ranked then
            count(*) over (partition by r.year, r.is_ranked, r.rank_key)
        end as n_sharing_rank,
        case when r.composite is not null then
            count(*) over (partition by r.year, (r.composite is not null), r.rank_key)
        end as n_sharing_rank_all
    from ranked as r
),

thirds as (
    select
        b.*,
        case
            when not b.is_ranked then null
            -- the first (band_size mod 3) thirds hold one member more
            when b.band_position <= (b.band_size - 3 * floor(b.band_size / 3.0)) * (floor(b.band_size / 3.0) + 1)
                then floor((b.band_position - 1) / (floor(b.band_size / 3.0) + 1)) + 1
            else (b.band_size - 3 * floor(b.band_size / 3.0))
                + floor(
                    (
                        b.band_position - 1
                        - (b.band_size - 3 * floor(b.band_size / 3.0)) * (floor(b.band_size / 3.0) + 1)
                    )
                    / nullif(floor(b.band_size / 3.0), 0)
                )
                + 1
        end as third_number
    from band_positions as b
),

with_previous as (
    select
        t.*,
        lag(t.year) over (partition by t.unit_code order by t.year nulls last) as prev_year,
        lag(t.rank_key) over (partition by t.unit_code order by t.year nulls last) as prev_rank_key,
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
    -- the index as published (GEN.index_decimals, half up): the figure the rank and the group are decided on
    cast(rank_key as double) as composite_index_published,
    average_composite as programme_average_composite,
    rank,
    case when is_ranked then n_ranked end as n_ranked,
    -- 并列: another ranked unit of the year has the same rank
    case when is_ranked then n_sharing_rank > 1 end as rank_is_shared,
    rank_all,
    case when composite is not null then n_sharing_rank_all > 1 end as rank_all_is_shared,
    case when is_ranked then performance_group end as performance_group,
    case cast(third_number as integer) when 1 then 'upper' when 2 then 'middle' when 3 then 'lower' end as group_third,
    performance_group as performance_group_all,
    -- the change of the PUBLISHED figures (exact decimals), the two numbers a city reads side by side: 80.0 then
    -- 80.0 is a change of 0.0, never the +0.04 of the unrounded indices behind them (the exact split of the
    -- unrounded change is fct_index_change_attribution's)
    case when prev_year = year - 1 then cast(rank_key - prev_rank_key as double) end as index_change,
    -- positive = moved up the ranking
    case when prev_year = year - 1 and is_ranked then prev_rank - rank end as rank_change,
    is_evaluated,
    is_ranked
from with_previous
