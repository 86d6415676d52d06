"""The Great Expectations gate on tiny batches: which expectation fails, with what observed value."""

from __future__ import annotations

from datetime import date

from serosurv.core.config import ValidationConfig
from serosurv.core.warehouse import rows
from transforms import quality

AS_OF = date(2025, 6, 30)


def add(con, claim_id, prescriber="D1", run_id="r1"):
    con.execute(
        "INSERT INTO claims BY NAME SELECT $c AS claim_id, 'P1' AS patient_id, DATE '2025-01-05' AS fill_date, "
        "30 AS days_supply, 'sertraline' AS drug_name, $p AS prescriber_id, 'paid' AS claim_status, $r AS run_id",
        {"c": claim_id, "p": prescriber, "r": run_id},
    )


def test_a_clean_batch_passes_and_every_result_is_recorded(warehouse):
    for i in range(4):
        add(warehouse, f"C{i}")
    result = quality.run_gate(warehouse, "r1", AS_OF, ValidationConfig())
    assert result.success, result.summary()
    assert rows(warehouse, "SELECT count(*), bool_and(success) FROM dq_results WHERE run_id = 'r1'") == [
        (len(result.results), True)
    ]


def test_too_many_unknown_prescribers_fails_the_gate(warehouse):
    add(warehouse, "C1")
    add(warehouse, "C2", prescriber=None)
    result = quality.run_gate(warehouse, "r1", AS_OF, ValidationConfig(max_unknown_prescriber_rate=0.25))
    assert not result.success
    assert [(f["expectation"], f["observed"]) for f in result.failures()] == [
        ("expect_column_values_to_be_between(unknown_prescriber_rate)", "1 unexpected, e.g. [0.5]")
    ]


def test_an_empty_batch_fails_on_rows_accepted(warehouse):
    result = quality.run_gate(warehouse, "r1", AS_OF, ValidationConfig())
    assert not result.success
    assert "expect_column_values_to_be_between(rows_accepted)" in [
        f["expectation"] for f in result.failures()
    ]


def test_quarantine_rate_counts_rejected_rows_but_not_already_loaded_ones(warehouse):
    add(warehouse, "C1")
    warehouse.execute(
        "INSERT INTO quarantine VALUES ('f', 1, '{}', 'already_loaded', 'x', 'r1'), ('f', 2, '{}', 'bad_ndc', 'x', 'r1')"
    )
    metrics = quality.batch_metrics(warehouse, "r1")
    assert metrics.loc[0, "rows_read"] == 3
    assert abs(metrics.loc[0, "quarantine_rate"] - 1 / 3) < 1e-9
