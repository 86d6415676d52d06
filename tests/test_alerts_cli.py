"""`serosurv alerts list|show|act|export-actions|codes`, run through `serosurv.cli.main` as on the command line."""

from __future__ import annotations

import csv
import json

import pytest

from serosurv.cli import main
from serosurv.core.warehouse import connect
from tests.test_alerts_lifecycle import add_fill, night, pair_rules
from transforms import engine


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def two_nights(tmp_path):
    path = tmp_path / "serosurv.duckdb"
    con = connect(path)
    engine.register_rules(con, pair_rules())
    con.execute(
        "CREATE TABLE rules_catalog AS SELECT 'R44' AS rule_id, 'moderate' AS severity, "
        "'additive serotonergic effect' AS mechanism, 'Monitor for serotonin syndrome' AS clinical_guidance, "
        "'FDA label' AS source, 'serotonergic' AS rule_set, '' AS verification_note"
    )
    add_fill(con, "S1", "2025-01-01", 90, "sertraline", "D1", "PH1")
    add_fill(con, "T1", "2025-01-20", 10, "tramadol", "D2", "PH2")
    add_fill(con, "S9", "2025-01-01", 90, "sertraline", "D7", "PH1", patient="P2")
    add_fill(con, "T9", "2025-01-10", 60, "tramadol", "D7", "PH1", patient="P2")
    night(con, "2025-01-25")
    add_fill(con, "T2", "2025-01-30", 10, "tramadol", "D3", "PH2")
    night(con, "2025-01-31")
    ids = dict(con.execute("SELECT patient_id, alert_id FROM alerts").fetchall())
    con.close()
    return path, ids


def test_list_show_act_and_export(capsys, two_nights, tmp_path):
    path, ids = two_nights
    code, out, _ = run(capsys, "alerts", "list", "--warehouse", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[2].split()[:4] == [ids["P1"], "changed:", "new", "prescriber"]  # changed before ongoing
    assert lines[3].split()[:2] == [ids["P2"], "ongoing"]
    assert "different prescriber" in lines[2] and "different pharmacy" in lines[2]
    assert "2 alert(s), night 2025-01-31." in out

    code, out, _ = run(
        capsys, "alerts", "list", "--status", "changed", "--format", "json", "--warehouse", str(path)
    )
    (record,) = json.loads(out)
    assert record["alert_id"] == ids["P1"] and record["status_reasons"] == ["new_prescriber"]
    assert record["other_prescriber_indicator"] == "2" and record["other_pharmacy_indicator"] == "3"

    code, out, _ = run(
        capsys,
        "alerts",
        "act",
        ids["P1"][:8],
        "--action",
        "M0",
        "--result",
        "1G",
        "--response",
        "not_my_patient",
        "--note",
        "called Dr D3",
        "--operator",
        "kim",
        "--warehouse",
        str(path),
    )
    assert (
        code == 0
        and "Recorded M0 (Prescriber consulted), result 1G (Filled, with prescriber approval)" in out
    )
    code, out, _ = run(capsys, "alerts", "list", "--warehouse", str(path))
    assert ids["P1"] not in out and "1 acted-on or snoozed alert(s) hidden" in out
    code, out, _ = run(capsys, "alerts", "list", "--all", "--format", "csv", "--warehouse", str(path))
    rows = list(csv.DictReader(out.splitlines()))
    assert {r["alert_id"]: r["quiet"] for r in rows} == {ids["P1"]: "True", ids["P2"]: "False"}

    code, out, _ = run(capsys, "alerts", "show", ids["P1"], "--warehouse", str(path))
    assert code == 0
    assert f"Alert {ids['P1']}: CHANGED (new prescriber) on the night of 2025-01-31" in out
    text = " ".join(out.split())  # unwrapped
    assert "previous fill of sertraline on 2025-01-01, quantity 30" in text
    assert "What to do: Monitor for serotonin syndrome" in text
    fills = [line.split() for line in out.splitlines() if line.startswith("*")]
    assert [(f[1], f[2], f[6], f[7]) for f in fills] == [
        ("2025-01-01", "sertraline", "D1", "PH1"),
        ("2025-01-20", "tramadol", "D2", "PH2"),
        ("2025-01-30", "tramadol", "D3", "PH2"),
    ]
    assert "2025-01-25  new" in out and "2025-01-31  changed  new prescriber" in out
    assert "kim" in out and "called Dr D3" in out

    target = tmp_path / "actions.csv"
    code, out, _ = run(capsys, "alerts", "export-actions", "--out", str(target), "--warehouse", str(path))
    assert out.strip() == f"Wrote 1 action(s) to {target}."
    (exported,) = list(csv.DictReader(target.open()))
    assert (
        exported["alert_id"],
        exported["operator"],
        exported["action_code"],
        exported["response_label"],
    ) == (
        ids["P1"],
        "kim",
        "M0",
        "Not my patient (the fragmented-care signal)",
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["act", "ffffffffffff", "--action", "M0", "--operator", "kim"], "There is no alert 'ffffffffffff'"),
        (["act", "{P1}", "--action", "ZZZ", "--operator", "kim"], "'ZZZ' is not a professional service code"),
        (["show", "nope"], "There is no alert 'nope'"),
        (["list", "--min-severity", "huge"], "'huge' is not a severity"),
        (["list", "--status", "open"], "'open' is not an alert status"),
    ],
)
def test_errors_are_one_sentence_and_exit_2(capsys, two_nights, argv, message):
    path, ids = two_nights
    argv = [a.replace("{P1}", ids["P1"]) for a in argv]
    code, _, err = run(capsys, "alerts", *argv, "--warehouse", str(path))
    assert code == 2 and message in err and err.count("\n") == 1


def test_a_missing_warehouse_is_an_error_not_a_new_file(capsys, tmp_path):
    code, _, err = run(capsys, "alerts", "list", "--warehouse", str(tmp_path / "none.duckdb"))
    assert code == 2 and "does not exist" in err and not (tmp_path / "none.duckdb").exists()


def test_codes_lists_the_vocabularies_with_sources(capsys):
    code, out, _ = run(capsys, "alerts", "codes")
    assert code == 0 and "M0                 Prescriber consulted" in out and "441-E6" in out
