-- Provenance of every indicator value (one row per unit x year x indicator of fct_city_indicator_year that
-- has a formula): the measures that went in and their values. With dim_indicator.formula (the definition) and
-- fct_unit_year_source_rows (the landing files and rows) a figure is traced in one step.
select
    unit_code,
    year,
    indicator_code,
    numerator_measure,
    numerator_value,
    numerator_scale,
    denominator_measure,
    denominator_value,
    is_growth_rate
from {{ ref('int_indicator_inputs') }}
