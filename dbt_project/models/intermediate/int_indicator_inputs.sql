-- The inputs of every indicator value: for each unit x year x indicator, the measures its formula (macro
-- indicator_formulas) reads and their values in that unit-year, so a figure can be traced to what went in.
with measures as (
    select * from {{ ref('int_unit_year_measures') }}
),

long as (
{%- for code, formula in indicator_formulas().items() %}
    select
        unit_code,
        year,
        '{{ code }}' as indicator_code,
        '{{ formula["numerator"] }}' as numerator_measure,
        cast({{ formula['numerator'] }} as double) as numerator_value,
        cast({{ formula.get('scale', 1) }} as double) as numerator_scale,
        {%- if formula.get('denominator') is none %}
        cast(null as string) as denominator_measure,
        cast(null as double) as denominator_value,
        {%- else %}
        '{{ formula["denominator"] }}' as denominator_measure,
        cast({{ formula['denominator'] }} as double) as denominator_value,
        {%- endif %}
        {{ 'true' if formula.get('growth') else 'false' }} as is_growth_rate
    from measures
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
)

select
    i.unit_code,
    i.year,
    i.indicator_code,
    i.numerator_measure,
    i.numerator_value,
    i.numerator_scale,
    i.denominator_measure,
    i.denominator_value,
    i.is_growth_rate
from long as i
inner join {{ ref('int_indicator_values') }} as v
    on v.unit_code = i.unit_code
    and v.year = i.year
    and v.indicator_code = i.indicator_code
