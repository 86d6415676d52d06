-- The data-quality checks of run $run_id in words: check, outcome (stopped, warning, passed, not_judged),
-- observed value, the two levels, the setting and the sentence; stopped and warnings first.
-- Input: dq_results.
select
    dq_results.check_name,
    dq_results.status,
    dq_results.observed,
    dq_results.warn_level,
    dq_results.stop_level,
    dq_results.setting,
    dq_results.message,
    dq_results.expectation
from dq_results
where dq_results.run_id = $run_id
order by
    case dq_results.status when 'stopped' then 0 when 'warning' then 1 when 'passed' then 2 else 3 end,
    dq_results.check_name
