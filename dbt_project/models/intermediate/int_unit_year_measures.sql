-- Every unit x year of its peer group's evaluation window, with the source aggregates the indicators need.
with spine as (
    select u.unit_code, u.peer_group, y.year, y.catalog_version
    from {{ ref('int_units') }} as u
    inner join {{ ref('int_evaluation_years') }} as y on y.peer_group = u.peer_group
)

select
    s.unit_code,
    s.peer_group,
    s.year,
    s.catalog_version,
    pop.population_10k,
    pop.gdp_100m_yuan,
    pat.patent_basis,
    pat.grants_total,
    pat.grants_invention,
    pat.grants_invention_enterprise,
    pat.in_force_invention,
    pat.in_force_invention_high_value,
    pl.months_reported as pledge_months_reported,
    pl.amount_10k_yuan as pledge_amount_10k_yuan,
    pl.amount_10k_yuan_prev_year as pledge_amount_10k_yuan_prev_year,
    pl.patents_pledged,
    pl.enterprises_served,
    pl.first_time_borrowers,
    enf.cases_filed,
    enf.cases_closed,
    enf.cases_pending_at_start,
    enf.cases_closed_by_mediation,
    enf.median_days_to_close,
    tr.events as training_events,
    tr.participants as training_participants,
    tr.participants_officials,
    tr.participants_service_agencies,
    tr.participants_schools
from spine as s
left join {{ ref('stg_raw__population') }} as pop
    on pop.region_code = s.unit_code and pop.year = s.year
left join {{ ref('int_patents__unit_year') }} as pat
    on pat.unit_code = s.unit_code and pat.year = s.year
left join {{ ref('int_pledge__unit_year') }} as pl
    on pl.unit_code = s.unit_code and pl.year = s.year
left join {{ ref('int_enforcement__unit_year') }} as enf
    on enf.unit_code = s.unit_code and enf.year = s.year
left join {{ ref('int_training__unit_year') }} as tr
    on tr.unit_code = s.unit_code and tr.year = s.year
