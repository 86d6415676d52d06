-- The profiles of the earlier successful nights a night's trend checks compare it with: the latest
-- $nights non-empty ones before $as_of (one profile per night: its latest successful run).
-- Parameters: $as_of, $nights. Inputs: night_profiles, runs.
select night_profiles.*
from night_profiles
inner join runs on night_profiles.run_id = runs.run_id
where runs.status = 'success' and night_profiles.as_of < $as_of and night_profiles.rows_accepted > 0
qualify row_number() over (partition by night_profiles.as_of order by runs.finished_at desc) = 1
order by night_profiles.as_of desc
limit $nights
