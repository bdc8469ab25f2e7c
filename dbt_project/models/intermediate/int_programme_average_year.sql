-- The programme average of each year, the denominator of every composite index: the mean composite (and the
-- mean of each pillar score) of the ranked units, i.e. the programme units evaluated that year (on the roster,
-- not withdrawn) that have a composite.
with ranked as (
    select c.*
    from {{ ref('int_composite') }} as c
    inner join {{ ref('int_programme_unit_years') }} as e
        on e.unit_code = c.unit_code
        and e.year = c.year
    where e.is_evaluated and c.composite is not null
)

-- Means as exact sums over the count (exact_sum, macros/portable.sql): a float avg depends on the order the
-- engine adds the rows in, which differs between two builds of the same data and between engines, and every
-- composite index of the year is divided by this mean.
select
    year,
    count(*) as n_ranked,
    {{ exact_sum('composite') }} / count(composite) as average_composite,
    {{ exact_sum('score_mgt') }} / count(score_mgt) as average_score_mgt,
    {{ exact_sum('score_pro') }} / count(score_pro) as average_score_pro,
    {{ exact_sum('score_utl') }} / count(score_utl) as average_score_utl,
    {{ exact_sum('score_qlt') }} / count(score_qlt) as average_score_qlt,
    {{ exact_sum('score_env') }} / count(score_env) as average_score_env
from ranked
group by year
