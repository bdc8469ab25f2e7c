-- One row per unit on the programme roster. A unit can sit in several programmes (demonstration city,
-- strong-city pilot, strong-city demonstration); it is in the programme while any of its roster rows is.
-- A roster row covers the years [cohort_year, withdrawn_year): a withdrawn city is not evaluated from the year
-- of its withdrawal on. A promotion (pilot -> demonstration) closes the pilot row but is no withdrawal.
with roster as (
    select
        unit_code,
        programme,
        cohort_year,
        status,
        case
            when withdrawn_on is not null then {{ year_of('withdrawn_on') }}
            when status = 'withdrawn' and status_since is not null then {{ year_of('status_since') }}
            -- withdrawn with no date: never evaluated under this roster row
            when status = 'withdrawn' then cohort_year
        end as withdrawn_year
    from {{ ref('stg_raw__programme_cities') }}
)

select
    unit_code,
    min(cohort_year) as programme_cohort_year,
    case
        when sum(case when status = 'active' then 1 else 0 end) > 0 then 'active'
        when sum(case when status = 'rectification' then 1 else 0 end) > 0 then 'rectification'
        else 'withdrawn'
    end as programme_status,
    -- the unit's last withdrawal, reported only once no roster row is still open
    case when sum(case when withdrawn_year is null and status <> 'promoted' then 1 else 0 end) = 0
        then max(withdrawn_year) end as withdrawn_year,
    count(*) as n_programmes
from roster
group by unit_code
