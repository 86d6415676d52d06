-- Quality dashboard: the number of people exposed to a rule ingredient (any episode day) between
-- $date_from and $date_to. One row, column `exposed`. Input: episodes.
select count(distinct episodes.patient_id) as exposed
from episodes
where episodes.episode_start <= $date_to::date and episodes.episode_end >= $date_from::date
