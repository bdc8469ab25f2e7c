{{ config(materialized=ephemeral_except_on_spark()) }}
-- One row: the evaluation parameters of the latest evaluation year in rules_versions (the rules in force
-- now), for models that apply one set of thresholds to every year. The evaluation stages themselves read
-- int_evaluation_params_year, so each year is judged by the rules in force then.
select y.*
from {{ ref('int_evaluation_params_year') }} y
where y.evaluation_year = (select max(evaluation_year) from {{ ref('int_evaluation_params_year') }})
