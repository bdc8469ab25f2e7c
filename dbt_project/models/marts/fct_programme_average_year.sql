-- The programme average of each year, as published: the composite every composite index is relative to
-- (composite_index = 100 x composite / average_composite) and the average pillar scores.
select
    year,
    n_ranked,
    average_composite,
    average_score_mgt,
    average_score_pro,
    average_score_utl,
    average_score_qlt,
    average_score_env
from {{ ref('int_programme_average_year') }}
