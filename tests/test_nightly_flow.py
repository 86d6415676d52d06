"""The whole night through the Prefect flow, on generated data with planted answers."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from serosurv import api
from serosurv.core.errors import GateFailed, SerosurvError
from transforms import quality

AS_OF = date(2025, 12, 31)


@pytest.fixture(scope="module")
def night(prefect_harness, generated, tmp_path_factory):
    out = tmp_path_factory.mktemp("night")
    result = api.run(
        [generated["claims"]],
        patients=generated["patients"],
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        as_of=AS_OF,
    )
    return result, Reader(out / "serosurv.duckdb"), out


@pytest.fixture(scope="module", params=["general", "serotonergic"])
def planted_night(request, prefect_harness, generated, tmp_path_factory):
    """A night's warehouse and the truth of its planted cases, on each workload of the generator."""
    if request.param == "general":
        _, con, _ = request.getfixturevalue("night")
        return con, generated["truth"]
    from transforms.synthetic import generate

    out = tmp_path_factory.mktemp("serotonergic-night")
    data = generate(out / "data", 1500, seed=7, workload="serotonergic")
    api.run(
        [data["claims"]],
        patients=data["patients"],
        out_dir=out,
        warehouse=out / "serosurv.duckdb",
        as_of=AS_OF,
    )
    return Reader(out / "serosurv.duckdb"), data["truth"]


class Reader:
    """Read-only queries that close their connection, so a later run can open the warehouse."""

    def __init__(self, path):
        self.path = str(path)

    def execute(self, sql, params=None):
        con = duckdb.connect(self.path, read_only=True)
        try:
            return Rows(con.execute(sql, params or {}).fetchall())
        finally:
            con.close()


class Rows(list):
    def fetchall(self):
        return list(self)


def test_every_planted_interaction_is_found_with_severity_kind_and_fragmentation(planted_night):
    con, truth = planted_night
    missed = con.execute(
        """
        SELECT t.patient_id, t.ingredient_a, t.ingredient_b, t.severity, t.kind, t.cross_prescriber
        FROM read_parquet($truth) AS t
        WHERE t.expect_flag AND NOT EXISTS (
            SELECT 1 FROM interactions AS i
            WHERE i.patient_id = t.patient_id AND i.ingredient_a = t.ingredient_a
              AND i.ingredient_b = t.ingredient_b AND i.severity = t.severity AND i.kind = t.kind
              AND i.cross_prescriber IS NOT DISTINCT FROM t.cross_prescriber)
        """,
        {"truth": str(truth)},
    ).fetchall()
    planted = con.execute("SELECT count(*) FROM read_parquet($t) WHERE expect_flag", {"t": str(truth)})
    assert planted.fetchall()[0][0] >= 40
    assert missed == []


def test_no_planted_near_miss_is_flagged(planted_night):
    con, truth = planted_night
    flagged = con.execute(
        """
        SELECT t.patient_id, t.ingredient_a, t.ingredient_b, i.kind, i.severity
        FROM read_parquet($truth) AS t
        JOIN interactions AS i USING (patient_id, ingredient_a, ingredient_b)
        WHERE NOT t.expect_flag
        """,
        {"truth": str(truth)},
    ).fetchall()
    near_misses = con.execute(
        "SELECT count(*) FROM read_parquet($t) WHERE NOT expect_flag", {"t": str(truth)}
    )
    assert near_misses.fetchall()[0][0] >= 6
    assert flagged == []


def test_rows_reconcile_and_the_run_is_recorded(night):
    result, con, _ = night
    ((status, read, accepted, quarantined, config_hash, rules_hash),) = con.execute(
        "SELECT status, rows_read, rows_accepted, rows_quarantined, config_hash, rules_hash FROM runs"
    ).fetchall()
    assert status == "success"
    assert read == accepted + quarantined
    assert (
        read
        == con.execute("SELECT count(*) FROM claims").fetchall()[0][0]
        + con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
    )
    assert quarantined > 0 and config_hash and len(rules_hash) == 64
    assert result.counts["rows_read"] == read


def test_alerts_are_current_interactions_and_new_on_the_first_night(night):
    _, con, _ = night
    statuses = dict(con.execute("SELECT status, count(*) FROM alerts GROUP BY ALL").fetchall())
    current = con.execute(
        "SELECT count(*) FROM interactions WHERE last_overlap_date >= DATE '2025-12-01' "
        "AND first_overlap_date <= DATE '2025-12-31'"
    ).fetchall()[0][0]
    assert statuses == {"new": current}


def test_report_is_self_contained_and_the_worklist_matches_the_alerts(night):
    result, con, _ = night
    html = result.reports["report"].read_text()
    assert "<script src" not in html and not re.search(r"(href|src)=\"https?://", html)
    assert "Rows reconcile" in html
    lines = result.reports["alerts"].read_text().strip().splitlines()
    assert len(lines) - 1 == con.execute("SELECT count(*) FROM alerts").fetchall()[0][0]
    assert not list(result.reports["report"].parent.glob("*.tmp"))


def test_rerunning_a_night_changes_nothing(night, generated):
    result, _, out = night
    again = api.run(
        [generated["claims"]],
        patients=generated["patients"],
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        as_of=AS_OF,
    )
    con = Reader(out / "serosurv.duckdb")
    assert again.counts["rows_accepted"] == result.counts["rows_accepted"]
    assert con.execute("SELECT count(*) FROM claims").fetchall()[0][0] == result.counts["rows_accepted"]
    statuses = dict(
        con.execute(
            "SELECT status, count(*) FROM alert_history WHERE run_id = $r GROUP BY ALL",
            {"r": again.run_id},
        ).fetchall()
    )
    assert statuses == {"new": result.counts["alerts_new"]}
    assert con.execute("SELECT count(DISTINCT alert_id) = count(*) FROM alerts").fetchall()[0][0]
    assert con.execute("SELECT count(*) FROM alert_history").fetchall()[0][0] == sum(statuses.values())


def test_a_failing_gate_stops_the_night_and_leaves_the_warehouse_as_it_was(
    prefect_harness, generated, tmp_path
):
    strict = tmp_path / "strict.toml"
    strict.write_text("[validation.checks]\nquarantine_rate = { warn = 0.0, stop = 0.0001 }\n")
    with pytest.raises(GateFailed, match=r"quarantine_rate\.stop = 0\.0001\)\. .*/failed\.html"):
        api.run(
            [generated["claims"]],
            out_dir=tmp_path,
            warehouse=Path(tmp_path) / "serosurv.duckdb",
            as_of=AS_OF,
            config_file=strict,
        )
    con = duckdb.connect(str(tmp_path / "serosurv.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM claims").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM episodes").fetchall() == [(0,)]
        # the failed night's quarantine stays inspectable (serosurv quarantine list), and its gate results
        assert con.execute("SELECT count(*) > 0 FROM quarantine").fetchall() == [(True,)]
        assert con.execute("SELECT status FROM runs").fetchall() == [("failed",)]
        failed = con.execute("SELECT check_name, expectation FROM dq_results WHERE NOT success").fetchall()
        assert failed == [("quarantine_rate", "expect_column_values_to_be_between(quarantine_rate)")]
    finally:
        con.close()
    page = (tmp_path / str(AS_OF) / "failed.html").read_text()
    assert "did not run" in page and "quarantine_rate.stop = 0.0001" in page
    listed = api.list_quarantine(warehouse=Path(tmp_path) / "serosurv.duckdb")
    assert listed.run["status"] == "failed" and listed.reasons["quarantined_rows"].sum() > 0
    assert "raw" not in listed.rows.columns
    con = duckdb.connect(str(tmp_path / "serosurv.duckdb"), read_only=True)
    try:
        pass
    finally:
        con.close()


def test_a_warning_lets_the_night_go_on_and_heads_its_report(prefect_harness, generated, tmp_path):
    """Past a warn level the night commits and the warning, in words, is the first thing the report says;
    the night's data-quality page lists every check."""
    warn = tmp_path / "warn.toml"
    warn.write_text("[validation.checks]\nreversal_share = { warn = 0.001, stop = 0.0 }\n")
    result = api.run(
        [generated["claims"]],
        out_dir=tmp_path,
        warehouse=Path(tmp_path) / "serosurv.duckdb",
        as_of=AS_OF,
        config_file=warn,
    )
    assert result.counts["dq_warnings"] == 1
    html = result.reports["report"].read_text()
    notice = html.index("<b>Warning: Reversals and adjustments.</b>")
    assert notice < html.index('id="alerts"')  # above the worklist
    assert "([validation.checks] reversal_share.warn = 0.001)" in html[notice:]
    page = (result.reports["report"].parent / "data-quality.html").read_text()
    assert page.count("<tr class=") == len(quality.CHECKS) + 1 and 'href="report.html"' in page


def test_unknown_format_is_refused(tmp_path, generated):
    with pytest.raises(SerosurvError, match="Unknown input format 'sas'"):
        api.run(
            [generated["claims"]], fmt="sas", out_dir=tmp_path, warehouse=Path(tmp_path) / "serosurv.duckdb"
        )


def test_a_damaged_parquet_input_stops_the_night_naming_it_and_loads_nothing(prefect_harness, tmp_path):
    """Validation streams from the input files, so a page that cannot be decoded shows up mid-night,
    inside the night's transaction: the error still names the file, quotes none of it, and the night
    leaves no claims, no quarantine and no staging files behind."""
    import io

    import polars as pl

    good = tmp_path / "good.csv"
    good.write_text(
        "claim_id,patient_id,fill_date,days_supply,drug_name\nG1,PATQ1,2025-01-01,30,sertraline\n"
    )
    buffer = io.BytesIO()
    pl.DataFrame(
        {
            "claim_id": ["C1"],
            "patient_id": ["PATQ9999"],
            "fill_date": ["2025-01-01"],
            "days_supply": ["30"],
            "drug_name": ["tramadol"],
        }
    ).write_parquet(buffer, compression="uncompressed", statistics=False)
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(buffer.getvalue().replace(b"PATQ9999", b"PATQ\xff999"))
    spill = tmp_path / "spill"
    config = tmp_path / "spill.toml"
    config.write_text(f'[warehouse]\ntemp_directory = "{spill}"\n')
    with pytest.raises(SerosurvError) as refused:
        api.run(
            [good, damaged],
            out_dir=tmp_path / "out",
            warehouse=Path(tmp_path / "out") / "serosurv.duckdb",
            as_of=AS_OF,
            config_file=config,
        )
    message = str(refused.value)
    assert message.startswith(f"{damaged}: cannot be read as Parquet") and "PATQ" not in message
    con = duckdb.connect(str(tmp_path / "out" / "serosurv.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM claims").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM quarantine").fetchall() == [(0,)]
        assert con.execute("SELECT status FROM runs").fetchall() == [("failed",)]
    finally:
        con.close()
    assert not list(spill.glob("serosurv-night-*"))  # the converted CSV went with the night
