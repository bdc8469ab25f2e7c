{#- Groups whose column sum differs from the expected total by more than a tolerance (weights sum to 1). -#}
{% test column_sums_to(model, column_name, group_by, total=1.0, tolerance=0.000001) %}
select {{ group_by | join(', ') }}, sum({{ column_name }}) as total
from {{ model }}
group by {{ group_by | join(', ') }}
having abs(sum({{ column_name }}) - {{ total }}) > {{ tolerance }}
{% endtest %}
