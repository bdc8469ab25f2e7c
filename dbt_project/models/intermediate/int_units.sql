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

-- The statistical groupings of county-level divisions directly under a province (Henan, Hubei, Hainan) or an
-- autonomous region (Xinjiang) have no pinyin: their English name is the labels seed's (label set unit_grouping,
-- keyed by the Chinese name). One definition for every reader: the dashboard, extracts and dossiers read it here.
groupings as (
    select cast(name_zh as string) as name_zh, cast(name_en as string) as name_en
    from {{ ref('labels') }}
    where label_sets like '%unit_grouping%'
),

-- The English names that are not the Hanyu Pinyin of the Chinese one: the cities' own, official English names of
-- the minority-language names (哈尔滨 Harbin, 呼和浩特 Hohhot, 乌鲁木齐 Urumqi, 拉萨 Lhasa ...), which the English
-- pages wrote "Haerbin", "Huhehaote", "Wulumuqi", "Lasa". The labels seed's unit_conventional_name set, keyed by the
-- Chinese name as the groupings are.
conventional as (
    select cast(name_zh as string) as name_zh, cast(name_en as string) as name_en
    from {{ ref('labels') }}
    where label_sets like '%unit_conventional_name%'
),

-- Syllables joined as Hanyu Pinyin writes them (GB/T 16159): an apostrophe before a syllable that starts with a, o
-- or e ('xi an' -> Xi'an, 'tai an' -> Tai'an): run together they read as one syllable, 'Xian'.
pinyin_marked as (
    select
        c.*,
        replace(replace(replace(
            c.pinyin,
            ' a', {{ dbt.concat(["chr(39)", "'a'"]) }}),
            ' o', {{ dbt.concat(["chr(39)", "'o'"]) }}),
            ' e', {{ dbt.concat(["chr(39)", "'e'"]) }}) as pinyin_joined
    from cities as c
),

city_names as (
    select
        c.*,
        -- pinyin 'shi jia zhuang' -> 'Shijiazhuang'
        case when c.pinyin is null or c.pinyin = '' then null
             else {{ dbt.concat([
                 "upper(substr(replace(c.pinyin_joined, ' ', ''), 1, 1))",
                 "substr(replace(c.pinyin_joined, ' ', ''), 2)",
             ]) }}
        end as pinyin_name,
        g.name_en as grouping_name,
        k.name_en as conventional_name,
        coalesce(p.name_en, c.province_name) as province_name_en
    from pinyin_marked as c
    left join groupings as g on g.name_zh = c.unit_name
    left join conventional as k on k.name_zh = c.unit_name
    left join province_names as p on p.province_code = c.province_code
),

city_units as (
    select
        unit_code,
        unit_name,
        -- readable and unique: the province is added to a grouping (four share one name) and to a romanisation
        -- two cities share (苏州/宿州 are both Suzhou)
        case
            when conventional_name is not null then conventional_name
            when grouping_name is not null
                then {{ dbt.concat(["grouping_name", "' ('", "province_name_en", "')'"]) }}
            when pinyin_name is null then cast(null as string)
            when count(*) over (partition by pinyin_name) > 1
                then {{ dbt.concat(["pinyin_name", "' ('", "province_name_en", "')'"]) }}
            else pinyin_name
        end as unit_name_en,
        province_code,
        province_name,
        level,
        parent_code,
        lng,
        lat,
        'city' as peer_group
    from city_names
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
