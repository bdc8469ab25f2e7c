-- The indicator catalog, one row per catalog version and indicator, with its pillar and both weights.
select
    cast(i.catalog_version as string) as catalog_version,
    cast(i.indicator_code as string) as indicator_code,
    cast(i.pillar_code as string) as pillar_code,
    cast(p.name_zh as string) as pillar_name_zh,
    cast(p.name_en as string) as pillar_name_en,
    cast(i.name_zh as string) as name_zh,
    cast(i.name_en as string) as name_en,
    cast(i.definition as string) as definition,
    cast(i.formula as string) as formula,
    cast(i.unit as string) as unit,
    cast(i.source_table as string) as source_table,
    cast(i.direction as string) as direction,
    cast(i.weight as double) as weight,
    cast(p.pillar_weight as double) as pillar_weight,
    cast(i.is_key_indicator as boolean) as is_key_indicator
from {{ ref('indicator_catalog') }} as i
inner join {{ ref('pillars') }} as p
    on p.catalog_version = i.catalog_version
    and p.pillar_code = i.pillar_code
