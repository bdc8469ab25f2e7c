with src as (
    {{ latest_per_key(source('raw', 'programme_cities'), ['city_code', 'programme', 'cohort']) }}
)

select
    cast(city_code as string) as unit_code,
    cast(unit_name as string) as unit_name,
    cast(programme as string) as programme,
    cast(cohort as string) as cohort,
    cast(cohort_year as integer) as cohort_year,
    cast(status as string) as status,
    cast(status_since as date) as status_since,
    cast(withdrawn_on as date) as withdrawn_on,
    cast(source as string) as source_note,
    cast(joined_on as date) as joined_on
from src
