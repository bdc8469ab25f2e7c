-- The indicator catalog as published: one row per catalog version and indicator, with its pillar.
select
    catalog_version,
    indicator_code,
    pillar_code,
    pillar_name_zh,
    pillar_name_en,
    name_zh,
    name_en,
    definition,
    formula,
    unit,
    source_table,
    direction,
    weight,
    pillar_weight,
    is_key_indicator
from {{ ref('int_indicator_catalog') }}
