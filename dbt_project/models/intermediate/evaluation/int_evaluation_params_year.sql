{{ config(materialized=ephemeral_except_on_spark()) }}
-- Evaluation parameters per evaluation year: the rules version in force that year (seed rules_versions, like
-- catalog_versions) pivoted from the reviewed rules seed into one typed row, so each year is judged by the
-- rules in force then and every rule reads its thresholds from configuration rather than literals in SQL.
-- Cycles are not parameters here: each unit-year's cycle comes from its programme calendar
-- (int_programme_unit_years), whose demonstration-city anchor is GEN.cycle_anchor_year.
{%- set p = {
  'robust_share': ('GEN', 'robust_share', 'double'),
  'ex1_enabled': ('EX1', 'enabled', 'integer'),
  'ex1_leader_group': ('EX1', 'leader_group', 'string'),
  'ex1_improve_min_points': ('EX1', 'improve_min_points', 'double'),
  'w1_enabled': ('W1', 'enabled', 'integer'),
  'w1_bottom_group': ('W1', 'bottom_group', 'string'),
  'w2_enabled': ('W2', 'enabled', 'integer'),
  'w2_lagging_share': ('W2', 'lagging_share', 'double'),
  'w2_min_targets': ('W2', 'min_targets', 'integer'),
  'ts_on_track_ratio': ('TS', 'on_track_ratio', 'double'),
  'ts_acceleration_ratio': ('TS', 'acceleration_ratio', 'double'),
  'r1_enabled': ('R1', 'enabled', 'integer'),
  'r1_watch_years': ('R1', 'watch_years', 'integer'),
  'r2_enabled': ('R2', 'enabled', 'integer'),
  'r2_regress_points': ('R2', 'regress_points', 'double'),
  'r2_below_index': ('R2', 'below_index', 'double'),
  'r2_noise_z': ('R2', 'noise_z', 'double'),
  'x1_enabled': ('X1', 'enabled', 'integer'),
  'x1_improve_min_points': ('X1', 'improve_min_points', 'double'),
  'x1_require_still_flagged': ('X1', 'require_still_flagged', 'integer'),
  'due_months': ('RPT', 'due_months', 'integer'),
  'grace_months': ('RPT', 'grace_months', 'integer'),
  'city_sources': ('RPT', 'city_sources', 'string'),
  'file_sources': ('RPT', 'file_sources', 'string'),
  'acc_target_weight': ('ACC', 'target_weight', 'double'),
  'acc_level_weight': ('ACC', 'level_weight', 'double'),
  'acc_level_full_ratio': ('ACC', 'level_full_ratio', 'double'),
  'acc_level_indicators': ('ACC', 'level_indicators', 'string'),
  'acc_remove_below': ('ACC', 'remove_below', 'double'),
  'acc_cultivation_from': ('ACC', 'cultivation_from', 'double'),
  'amb_unambitious_weight': ('AMB', 'unambitious_weight', 'double'),
  'tp_third_party_weight': ('TP', 'third_party_weight', 'double'),
  'tp_pending_blocks_verdict': ('TP', 'pending_blocks_verdict', 'integer'),
  'tp_site_visit_share': ('TP', 'site_visit_share', 'double'),
  'tp_pillar_share': ('TP', 'pillar_share', 'double'),
  'tp_document_review_share': ('TP', 'document_review_share', 'double'),
  'gen_cycle_anchor_year': ('GEN', 'cycle_anchor_year', 'integer'),
  'gen_cycle_length': ('GEN', 'cycle_length', 'integer'),
  'gen_joined_entry_baseline': ('GEN', 'joined_entry_baseline', 'integer'),
  'gen_change_like_for_like': ('GEN', 'change_like_for_like', 'integer'),
  'acc_reapply_ban_years': ('ACC', 'reapply_ban_years', 'integer'),
  'acc_max_pilot_rounds': ('ACC', 'max_pilot_rounds', 'integer'),
} %}
with pivoted as (
  select
    cast(rules_version as string) as rules_version
    {%- for name, spec in p.items() %},
    cast(max(case when rule_code = '{{ spec[0] }}' and param = '{{ spec[1] }}' then cast(value as string) end)
         as {{ spec[2] }}) as {{ name }}
    {%- endfor %}
  from {{ ref('evaluation_rules') }}
  group by cast(rules_version as string)
)

select
  cast(v.evaluation_year as integer) as evaluation_year,
  p.*
from {{ ref('rules_versions') }} as v
inner join pivoted as p on p.rules_version = cast(v.rules_version as string)
