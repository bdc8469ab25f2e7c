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

select
    year,
    count(*) as n_ranked,
    avg(composite) as average_composite,
    avg(score_mgt) as average_score_mgt,
    avg(score_pro) as average_score_pro,
    avg(score_utl) as average_score_utl,
    avg(score_qlt) as average_score_qlt,
    avg(score_env) as average_score_env
from ranked
group by year
