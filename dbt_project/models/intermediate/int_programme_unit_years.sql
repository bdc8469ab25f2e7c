-- Which programme units are evaluated (ranked) in which year.
with roster as (
    select
        unit_code,
        cohort_year,
        case
            when withdrawn_on is not null then {{ year_of('withdrawn_on') }}
            when status = 'withdrawn' and status_since is not null then {{ year_of('status_since') }}
            when status = 'withdrawn' then cohort_year
        end as withdrawn_year
    from {{ ref('stg_raw__programme_cities') }}
),

years as (
    select year from {{ ref('int_evaluation_years') }}
    where peer_group = 'city'
)

select
    r.unit_code,
    y.year,
    true as is_evaluated
from roster as r
inner join years as y
    on y.year >= r.cohort_year
    and (r.withdrawn_year is null or y.year < r.withdrawn_year)
group by r.unit_code, y.year
