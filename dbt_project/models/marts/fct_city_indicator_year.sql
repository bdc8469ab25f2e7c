-- One row per unit x year x indicator of the year's catalog: raw value, value after carry-forward, flags and
-- the normalised score (0-100, higher is better whatever the indicator's direction); computed in
-- int_indicator_scores.
select
    unit_code,
    year,
    indicator_code,
    catalog_version,
    peer_group,
    raw_value,
    value,
    is_imputed,
    is_outlier,
    is_missing,
    capped_value,
    is_sqrt_transformed,
    transformed_value,
    normalised_score
from {{ ref('int_indicator_scores') }}
