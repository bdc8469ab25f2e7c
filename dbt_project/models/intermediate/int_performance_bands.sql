-- The performance bands of the composite index with both bounds, from the bands seed: a band runs from its
-- lower bound up to the next band's lower bound, and that bound belongs to the band above only when the band
-- above includes it. The lowest band has no lower bound, the highest no upper bound.
with bands as (
    select
        cast(group_code as string) as group_code,
        cast(lower_bound as double) as lower_bound,
        cast(lower_bound_inclusive as boolean) as lower_bound_inclusive
    from {{ ref('performance_bands') }}
)

select
    group_code,
    lower_bound,
    lower_bound_inclusive,
    lead(lower_bound) over (order by lower_bound asc nulls first) as upper_bound,
    not lead(lower_bound_inclusive) over (order by lower_bound asc nulls first) as upper_bound_inclusive
from bands
