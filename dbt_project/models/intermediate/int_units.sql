-- Every unit the system knows: the prefecture-level and county-level units of raw.cities, plus one province
-- unit per province (xx0000). peer_group says who a unit is compared with: cities with cities, provinces with
-- provinces.
with cities as (
    select * from {{ ref('stg_raw__cities') }}
),

province_names as (
    select cast(province_code as string) as province_code, cast(name_en as string) as name_en
    from {{ ref('province_names') }}
),

city_units as (
    select
        unit_code,
        unit_name,
        -- pinyin 'shi jia zhuang' -> 'Shijiazhuang'
        case when pinyin is null or pinyin = '' then null
             else {{ dbt.concat([
                 "upper(substr(replace(pinyin, ' ', ''), 1, 1))",
                 "substr(replace(pinyin, ' ', ''), 2)",
             ]) }}
        end as unit_name_en,
        province_code,
        province_name,
        level,
        parent_code,
        lng,
        lat,
        'city' as peer_group
    from cities
),

province_units as (
    select
        c.province_code as unit_code,
        max(c.province_name) as unit_name,
        max(p.name_en) as unit_name_en,
        c.province_code,
        max(c.province_name) as province_name,
        'province' as level,
        cast(null as string) as parent_code,
        -- a label point for the map: the mean of the province's prefecture centres
        avg(case when c.level <> 'county_level_city' and c.level <> 'municipal_district' then c.lng end) as lng,
        avg(case when c.level <> 'county_level_city' and c.level <> 'municipal_district' then c.lat end) as lat,
        'province' as peer_group
    from cities as c
    left join province_names as p on p.province_code = c.province_code
    group by c.province_code
)

select * from city_units
union all
select * from province_units
