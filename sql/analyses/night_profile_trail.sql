-- A night's profile beside those of the earlier successful nights (newest first, up to $nights + 1
-- rows), for the night's data-quality page. Parameters: $run_id, $nights. Inputs: night_profiles, runs.
with this as (
    select night_profiles.* from night_profiles where night_profiles.run_id = $run_id
),

earlier as (
    select night_profiles.*
    from night_profiles
    inner join runs on night_profiles.run_id = runs.run_id
    where runs.status = 'success' and night_profiles.as_of < (select this.as_of from this)
    qualify row_number() over (partition by night_profiles.as_of order by runs.finished_at desc) = 1
    order by night_profiles.as_of desc
    limit $nights
)

select * from this
union all
(select * from earlier)
order by as_of desc
