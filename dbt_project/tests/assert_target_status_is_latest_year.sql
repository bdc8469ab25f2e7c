-- One target-status method: fct_target_status must be exactly the latest-year rows of fct_target_status_year
-- (plus insufficient_data for targets with no year in reach). Any row returned is drift.
with latest as (
  select *
  from (
    select
      y.*,
      row_number() over (
        partition by y.unit_code, y.plan_id, y.indicator_code order by y.year desc nulls last
      ) as recency
    from {{ ref('fct_target_status_year') }} as y
  ) as r
  where recency = 1
)

select s.unit_code, s.plan_id, s.indicator_code, s.status, l.status as year_status
from {{ ref('fct_target_status') }} as s
left join latest as l
  on l.unit_code = s.unit_code and l.plan_id = s.plan_id and l.indicator_code = s.indicator_code
where (l.unit_code is null and (s.status <> 'insufficient_data' or s.current_value is not null))
   or (l.unit_code is not null and (
        s.status <> l.status
        or coalesce(s.status_year, -1) <> l.year
        or coalesce(s.current_year, -1) <> coalesce(l.current_year, -1)
        or coalesce(s.current_value, -1e300) <> coalesce(l.current_value, -1e300)
        or coalesce(s.growth_ratio, -1e300) <> coalesce(l.growth_ratio, -1e300)
        or coalesce(s.progress_index, -1e300) <> coalesce(l.progress_index, -1e300)
        or coalesce(s.projected_value, -1e300) <> coalesce(l.projected_value, -1e300)
      ))
