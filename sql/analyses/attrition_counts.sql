-- The attrition counts of run $run_id (rows read, accepted, mapped, ... in the order of the night's
-- steps): measure, value. Input: attrition.
select attrition.measure, attrition.value
from attrition
where attrition.run_id = $run_id
order by attrition.step
