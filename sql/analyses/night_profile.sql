-- A night's recorded profile (the gate's input). Parameter: $run_id. Input: night_profiles.
select night_profiles.*
from night_profiles
where night_profiles.run_id = $run_id
