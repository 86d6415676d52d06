"""Every operation of the Python API, called directly as a notebook would: plain arguments in, data out,
`SerosurvError` for what the user can fix. One small night is shared by the warehouse operations."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from serosurv import api
from serosurv.core.errors import SerosurvError

AS_OF = date(2025, 12, 31)
NDC_SAMPLE = Path(__file__).parent / "data" / "ndc"


@pytest.fixture(scope="module")
def night(prefect_harness, generated, tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    result = api.run(
        [generated["claims"]],
        patients=generated["patients"],
        out_dir=out,
        as_of=AS_OF,
        warehouse=out / "serosurv.duckdb",
    )
    return result, out / "serosurv.duckdb"


def test_generate_writes_the_three_files(tmp_path):
    written = api.generate(tmp_path, patients=50, seed=3)
    assert isinstance(written, api.Generated)
    assert pl.read_parquet(written.patients).height == 50
    assert written.claims.is_file() and written.truth.is_file()
    with pytest.raises(SerosurvError, match="--end must not be before --start"):
        api.generate(tmp_path, patients=5, start=date(2025, 2, 1), end=date(2025, 1, 1))


def test_run_returns_the_night_and_writes_where_it_says(night):
    result, warehouse = night
    assert isinstance(result, api.NightResult)
    assert result.as_of == AS_OF.isoformat() and result.warehouse == warehouse
    assert result.counts["rows_read"] == result.counts["rows_accepted"] + result.counts["rows_quarantined"]
    assert all(path.is_file() for path in result.reports.values())


def test_run_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(SerosurvError, match="does not exist"):
        api.run([tmp_path / "nope.csv"], warehouse=tmp_path / "w.duckdb")
    with pytest.raises(SerosurvError, match="Unknown input format"):
        api.run([tmp_path], fmt="sas", warehouse=tmp_path / "w.duckdb")


def test_the_worklist_show_act_and_export(night, tmp_path):
    _, warehouse = night
    worklist = api.list_alerts(warehouse)
    assert isinstance(worklist, api.Worklist) and worklist.night == AS_OF and worklist.alerts.height > 0
    ranks = worklist.alerts["severity_rank"].to_list()
    assert ranks == sorted(ranks, reverse=True)  # the most dangerous first
    alert_id = worklist.alerts["alert_id"][0]
    detail = api.show_alert(alert_id[:8], warehouse)
    assert isinstance(detail, api.AlertDetail) and detail.alert["alert_id"] == alert_id and detail.fills
    stored = api.act(
        alert_id, action="M0", result="1G", operator="A. Patel", note="called", warehouse=warehouse
    )
    assert (stored["alert_id"], stored["action_code"], stored["result_code"]) == (alert_id, "M0", "1G")
    assert alert_id not in api.list_alerts(warehouse).alerts["alert_id"].to_list()  # quiet now
    assert api.list_alerts(warehouse).hidden >= 1
    assert api.export_actions(tmp_path / "actions.csv", warehouse) == 1
    with pytest.raises(SerosurvError, match="is not a professional service code"):
        api.act(alert_id, action="XX", operator="A. Patel", warehouse=warehouse)


def test_action_codes_are_a_table_with_sources():
    codes = api.action_codes()
    assert {"professional_service", "result_of_service", "retrodur_response"} == set(codes["vocabulary"])
    assert codes.filter(pl.col("code") == "M0")["label"].to_list() == ["Prescriber consulted"]
    assert codes["source"].str.len_chars().min() > 0


def test_rules_list_explain_check_and_add_synonym(tmp_path):
    listing = api.list_agents("MAOI")
    assert isinstance(listing.agents, pl.DataFrame) and "phenelzine" in listing.agents["ingredient"].to_list()
    explanation = api.explain("Nardil", "Zoloft 50 mg")
    (pair,) = explanation.pairs
    assert (pair.winner["rule_id"], pair.washout_a_then_b, pair.washout_b_then_a) == ("R01", 14, 14)
    check = api.check_rules()
    assert check.rules_hash == explanation.rules_hash and check.unexplained == [] and check.findings
    import shutil

    folder = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parents[1] / "rules", folder)
    written = api.add_synonym("Sertralina", ["sertraline"], "test", rules_dir=folder)
    assert written == folder / "synonyms.csv" and "Sertralina,sertraline" in written.read_text()


def test_import_ndc_loads_the_directory(tmp_path):
    counts = api.import_ndc(NDC_SAMPLE, warehouse=tmp_path / "w.duckdb")
    assert counts["packages_mapped"] > 0 and counts["rows_written"] > 0


def test_dashboard_prevalence_and_query(night, tmp_path):
    _, warehouse = night
    board = api.dashboard(date(2025, 1, 1), AS_OF, tmp_path / "d.html", warehouse=warehouse)
    assert board.is_file() and "vegaEmbed" in board.read_text()
    files = api.prevalence(tmp_path / "p.csv", warehouse=warehouse, interval="year")
    assert isinstance(files, api.PrevalenceFiles) and files.table.is_file() and files.summary.is_file()
    counts = api.query("select count(*) as n from claims", warehouse)
    assert counts.columns == ["n"] and counts["n"][0] > 0
    with pytest.raises(SerosurvError, match="read-only"):
        api.query("delete from claims", warehouse)


def test_one_default_warehouse_for_every_command(tmp_path, monkeypatch):
    from serosurv.core.config import warehouse_path

    monkeypatch.delenv("SEROSURV_WAREHOUSE", raising=False)
    assert warehouse_path() == Path("serosurv.duckdb")
    monkeypatch.setenv("SEROSURV_WAREHOUSE", str(tmp_path / "env.duckdb"))
    assert warehouse_path() == tmp_path / "env.duckdb"
    assert warehouse_path(tmp_path / "given.duckdb") == tmp_path / "given.duckdb"
    with pytest.raises(SerosurvError, match="does not exist; run a night first"):
        api.list_alerts()  # the environment's warehouse, which no night created


def test_serve_dry_run_says_what_it_would_register(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text(
        f'[schedule]\nclaims = "{tmp_path}/{{date}}.csv"\n[warehouse]\npath = "{tmp_path}/w.duckdb"\n'
    )
    plan = api.serve(config, dry_run=True)
    assert isinstance(plan, str) and f"Warehouse:  {tmp_path}/w.duckdb" in plan


def test_demo_runs_a_night_in_a_fresh_warehouse_of_its_own(prefect_harness, tmp_path):
    first = api.demo(tmp_path, patients=300, seed=5)
    again = api.demo(tmp_path, patients=300, seed=5)
    assert first.warehouse == again.warehouse == tmp_path / "serosurv.duckdb"
    assert again.counts["rows_accepted"] == first.counts["rows_accepted"] > 0  # not "already loaded"
    assert again.dashboard and again.dashboard.is_file()
