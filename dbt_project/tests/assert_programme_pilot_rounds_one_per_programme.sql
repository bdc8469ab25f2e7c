-- Whether a programme numbers pilot rounds (seed programme_calendar.numbers_pilot_rounds) is a property of the
-- programme, written on each of its cohort rows: the cohorts must agree, or a pilot's round count would depend on
-- the cohort it joined.
select programme_code
from {{ ref('programme_calendar') }}
group by programme_code
having count(distinct numbers_pilot_rounds) > 1
