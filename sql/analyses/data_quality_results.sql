-- The data-quality expectations of run $run_id: suite, expectation, whether it passed and what was
-- observed; failures first. Input: dq_results.
select dq_results.suite, dq_results.expectation, dq_results.success, dq_results.observed
from dq_results
where dq_results.run_id = $run_id
order by dq_results.success, dq_results.suite, dq_results.expectation
