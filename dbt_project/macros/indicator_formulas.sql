{#- How each indicator is computed from the unit-year measures of int_unit_year_measures: numerator x scale /
    denominator (minus 1 for a growth rate), or the numerator itself when there is no denominator. The one
    definition both int_indicator_values (the value) and int_indicator_inputs (the provenance: which measures,
    with which values, went in) are generated from; the catalog's formula column says the same for readers. -#}
{% macro indicator_formulas() -%}
    {{ return({
        'MGT01': {'numerator': 'participants_officials', 'denominator': 'population_10k'},
        'MGT02': {'numerator': 'participants_service_agencies', 'denominator': 'population_10k'},
        'MGT03': {'numerator': 'training_events', 'scale': 100, 'denominator': 'population_10k'},
        'PRO01': {'numerator': 'cases_closed', 'denominator': 'cases_filed + cases_pending_at_start'},
        'PRO02': {'numerator': 'median_days_to_close'},
        'PRO03': {'numerator': 'cases_closed_by_mediation', 'denominator': 'cases_closed'},
        'PRO04': {'numerator': 'cases_filed', 'denominator': 'population_10k'},
        'UTL01': {'numerator': 'pledge_amount_10k_yuan', 'denominator': 'gdp_100m_yuan'},
        'UTL02': {'numerator': 'enterprises_served', 'scale': 100, 'denominator': 'population_10k'},
        'UTL03': {'numerator': 'first_time_borrowers', 'denominator': 'enterprises_served'},
        'UTL04': {'numerator': 'pledge_amount_10k_yuan', 'denominator': 'pledge_amount_10k_yuan_prev_year',
                  'growth': true},
        'UTL05': {'numerator': 'patents_pledged', 'scale': 1000, 'denominator': 'in_force_invention'},
        'QLT01': {'numerator': 'in_force_invention', 'denominator': 'population_10k'},
        'QLT02': {'numerator': 'in_force_invention_high_value', 'denominator': 'population_10k'},
        'QLT03': {'numerator': 'grants_invention', 'denominator': 'grants_total'},
        'QLT04': {'numerator': 'grants_invention_enterprise', 'denominator': 'grants_invention'},
        'ENV01': {'numerator': 'training_participants', 'denominator': 'population_10k'},
        'ENV02': {'numerator': 'participants_schools', 'denominator': 'population_10k'},
        'ENV03': {'numerator': 'grants_total', 'denominator': 'population_10k'},
    }) }}
{%- endmacro %}

{#- The SQL expression of one formula of indicator_formulas(). -#}
{% macro indicator_value_sql(formula) -%}
    {%- if formula.get('denominator') is none -%}
        cast({{ formula['numerator'] }} as double)
    {%- else -%}
        {%- set numerator = formula['numerator'] ~ (' * ' ~ formula['scale'] if formula.get('scale') else '') -%}
        {{ safe_divide(numerator, formula['denominator']) }}{{ ' - 1' if formula.get('growth') else '' }}
    {%- endif -%}
{%- endmacro %}
