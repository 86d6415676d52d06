-- The fields that the sources of the successful nights from $date_from to $date_to do not carry (one
-- row per field, with the nights), for the dashboard's "cannot be measured" notice.
-- Inputs: night_profiles, runs.
select
    field,
    count(*) as nights
from (
    select unnest(string_split(night_profiles.absent_fields, ',')) as field
    from night_profiles
    inner join runs on night_profiles.run_id = runs.run_id
    where runs.status = 'success' and night_profiles.as_of between $date_from and $date_to
)
where field <> ''
group by field
order by field
