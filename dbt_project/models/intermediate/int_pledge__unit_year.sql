-- Pledge-loan statistics per unit and year. A unit-year without any monthly row is missing, not zero.
with monthly as (
    select a.unit_code, p.*
    from {{ ref('stg_raw__pledge_loans') }} as p
    inner join {{ ref('int_unit_attribution') }} as a on a.region_code = p.region_code
),

yearly as (
    select
        unit_code,
        year,
        count(distinct month) as months_reported,
        sum(registrations) as registrations,
        -- exact_sum: a float sum depends on the order the engine adds the rows in (two builds, two engines)
        {{ exact_sum('amount_10k_yuan') }} as amount_10k_yuan,
        sum(patents_pledged) as patents_pledged,
        sum(enterprises_served) as enterprises_served,
        sum(first_time_borrowers) as first_time_borrowers
    from monthly
    group by unit_code, year
)

select
    cur.*,
    prev.amount_10k_yuan as amount_10k_yuan_prev_year
from yearly as cur
left join yearly as prev
    on prev.unit_code = cur.unit_code
    and prev.year = cur.year - 1
