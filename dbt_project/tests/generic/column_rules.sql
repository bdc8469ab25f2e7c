{#-
  A model's simple column rules judged in ONE query (one dbt node) instead of one node per rule: each dbt test
  node costs ≈ 18 ms of dbt's own work whatever its query (bench/RESULTS.md, 5 December 2026), and ≈ 200 of the
  project's tests were single-column rules whose queries cost nearly nothing.

  columns: column -> its rules, as the model's yml declares them:
    not_null                                     the value is present
    {accepted_values: {values: [...], quote: true}}  the value is one of these (nulls pass, as dbt's own test)
    {in_range: {min_value: a, max_value: b}}     a <= value <= b (nulls pass; either bound may be left out)
  expressions: boolean SQL expressions every row must satisfy (false or null fails), judged as expression_holds.

  Returns one row per rule that fails: column_name (null for a model-level expression), rule, failing_rows. The
  test's failure count is the sum of failing_rows (fail_calc), so dbt and Dagster report rows, as the single
  tests did; pipelines/assets/dbt.py reads these rows back to name each failing column and rule in the run.
-#}
{% test column_rules(model, columns={}, expressions=[]) %}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
{%- set checks = [] -%}
{%- for column, rules in columns.items() -%}
  {%- for rule in rules -%}
    {%- set kind = rule if rule is string else (rule.keys() | list)[0] -%}
    {%- set args = {} if rule is string else (rule[kind] or {}) -%}
    {%- if kind == 'not_null' -%}
      {%- do checks.append({'column': column, 'rule': 'not_null', 'fails': column ~ ' is null'}) -%}
    {%- elif kind == 'accepted_values' -%}
      {%- set quoted = [] -%}
      {%- for v in args['values'] -%}
        {%- do quoted.append(("'" ~ dbt.escape_single_quotes(v | string) ~ "'") if args.get('quote', true) else (v | string)) -%}
      {%- endfor -%}
      {%- do checks.append({'column': column, 'rule': 'accepted_values', 'fails': column ~ ' not in (' ~ (quoted | join(', ')) ~ ')'}) -%}
    {%- elif kind == 'in_range' -%}
      {%- set bounds = [] -%}
      {%- if args.get('min_value') is not none -%}{%- do bounds.append(column ~ ' < ' ~ args['min_value']) -%}{%- endif -%}
      {%- if args.get('max_value') is not none -%}{%- do bounds.append(column ~ ' > ' ~ args['max_value']) -%}{%- endif -%}
      {%- if not bounds -%}
        {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": in_range of column " ~ column ~ " gives neither min_value nor max_value") }}
      {%- endif -%}
      {%- do checks.append({'column': column, 'rule': 'in_range [' ~ args.get('min_value', '') ~ ', ' ~ args.get('max_value', '') ~ ']', 'fails': column ~ ' is not null and (' ~ (bounds | join(' or ')) ~ ')'}) -%}
    {%- else -%}
      {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": unknown rule '" ~ kind ~ "' for column " ~ column ~ " (not_null, accepted_values, in_range)") }}
    {%- endif -%}
  {%- endfor -%}
{%- endfor -%}
{%- for expression in expressions -%}
  {%- do checks.append({'column': none, 'rule': 'expression_holds: ' ~ expression, 'fails': 'not coalesce((' ~ expression ~ '), false)'}) -%}
{%- endfor -%}
{%- if not checks -%}
  {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": no rules given") }}
{%- endif %}
with counts as (
  select
  {%- for c in checks %}
    sum(case when {{ c.fails }} then 1 else 0 end) as rule_{{ loop.index }}{{ "," if not loop.last }}
  {%- endfor %}
  from {{ model }}
)

{% for c in checks -%}
select
  {% if c.column is none %}cast(null as string){% else %}'{{ c.column }}'{% endif %} as column_name,
  '{{ dbt.escape_single_quotes(c.rule) }}' as rule,
  rule_{{ loop.index }} as failing_rows
from counts
where rule_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
{% endtest %}
