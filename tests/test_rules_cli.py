"""`serosurv rules list|explain|check` and `serosurv reference import-ndc`, as a pharmacist runs them.

The commands run through `serosurv.cli.main`, as on the command line (errors printed, exit codes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from serosurv.cli import build_parser, main
from serosurv.core.rules import load_rules

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
NDC_SAMPLE = Path(__file__).parent / "data" / "ndc"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `serosurv ARGV` for the rules/reference commands."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _matching_rules(out: str) -> list[list[str]]:
    """The rows under "Matching rules": [mark?, rule_id, severity, rule_set, sides...] split on spaces."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  Matching rules")) + 1
    return [line.split() for line in lines[start:] if line.startswith("   ")]


def _one_sentence(err: str) -> str:
    message = err.strip().removeprefix("serosurv: error: ")
    assert "\n" not in message and message.count(". ") == 0 and message.endswith("."), message
    return message


# ---------------------------------------------------------------------------- rules explain


def test_explain_tramadol_and_sertraline_is_moderate(capsys):
    code, out, _ = run(capsys, "rules", "explain", "tramadol", "sertraline")
    assert code == 0
    assert "tramadol + sertraline: MODERATE (rule R44, serotonergic rules)" in out
    assert "tramadol then sertraline: no washout" in out
    assert [row[:3] for row in _matching_rules(out)] == [
        ["*", "R44", "moderate"],
        ["R65", "moderate", "serotonergic"],
    ]


def test_explain_tramadol_and_fluoxetine_is_major_with_every_matching_rule(capsys):
    code, out, _ = run(capsys, "rules", "explain", "tramadol", "fluoxetine")
    assert code == 0
    assert "tramadol + fluoxetine: MAJOR (rule R45, serotonergic rules)" in out
    assert "CYP2D6" in out
    assert [row[:3] for row in _matching_rules(out)] == [
        ["*", "R45", "major"],
        ["R44", "moderate", "serotonergic"],
        ["R65", "moderate", "serotonergic"],
    ]


def test_explain_phenelzine_and_sertraline_is_contraindicated_with_both_washouts(capsys):
    code, out, _ = run(capsys, "rules", "explain", "phenelzine", "sertraline")
    assert code == 0
    assert "phenelzine + sertraline: CONTRAINDICATED (rule R01, serotonergic rules)" in out
    assert "after stopping phenelzine wait 14 days before starting sertraline" in out
    assert "after stopping sertraline wait 14 days before starting phenelzine" in out
    for label in ("Mechanism:", "What to do:", "Sources:", "Why this severity:"):
        assert label in out


def test_explain_fluoxetine_needs_35_days_before_phenelzine(capsys):
    code, out, _ = run(capsys, "rules", "explain", "fluoxetine", "phenelzine")
    assert code == 0
    assert "after stopping fluoxetine wait 35 days before starting phenelzine" in out
    assert "after stopping phenelzine wait 14 days before starting fluoxetine" in out


def test_explain_accepts_brand_and_tall_man_names(capsys):
    code, out, _ = run(capsys, "rules", "explain", "Zoloft", "TraMADOL (Ultram)")
    assert code == 0
    assert out.splitlines()[0] == "'Zoloft' is sertraline; 'TraMADOL (Ultram)' is tramadol."
    assert "sertraline + tramadol: MODERATE (rule R44, serotonergic rules)" in out


def test_explain_shows_the_route_that_decides(capsys):
    code, out, _ = run(capsys, "rules", "explain", "Emsam 6 mg/24 hr", "sertraline")
    assert code == 0
    assert "selegiline (transdermal) + sertraline: CONTRAINDICATED (rule R30" in out
    assert "Still to verify:" in out


def test_explain_without_a_serotonergic_rule_points_to_the_related_rule(capsys):
    code, out, _ = run(capsys, "rules", "explain", "zolpidem", "sertraline")
    assert code == 0
    assert out.splitlines()[-1] == (
        "No serotonergic rule covers zolpidem + sertraline; the related rules (--related) have one: "
        "R79 (minor, not serotonin syndrome)."
    )
    code, out, _ = run(capsys, "rules", "explain", "zolpidem", "sertraline", "--related")
    assert code == 0
    assert "zolpidem + sertraline: MINOR (rule R79, related rules)" in out


def test_explain_with_no_rule_in_either_set_says_so(capsys):
    code, out, _ = run(capsys, "rules", "explain", "zolpidem", "sumatriptan")
    assert code == 0
    assert out.splitlines()[-1] == (
        "No serotonergic rule covers zolpidem + sumatriptan, and the related rules have none either."
    )


def test_explain_same_ingredient_twice(capsys):
    code, out, _ = run(capsys, "rules", "explain", "Zoloft", "sertraline HCl 50 mg")
    assert code == 0
    assert "same ingredient" in out


def test_explain_unknown_drug_exits_2_in_one_sentence(capsys):
    code, out, err = run(capsys, "rules", "explain", "metformin", "sertraline")
    assert (code, out) == (2, "")
    assert "'metformin' is not a drug name the rule set knows" in _one_sentence(err)


# ---------------------------------------------------------------------------- rules check


def test_check_good_folder_prints_counts_and_hash(capsys):
    ruleset = load_rules(RULES_DIR, include_related=True)
    code, out, _ = run(capsys, "rules", "check", str(RULES_DIR))
    assert code == 0
    assert (
        f"{len(ruleset.agents)} agents, {len(ruleset.synonyms)} synonyms, {len(ruleset.rules)} rules" in out
    )
    assert out.splitlines()[1] == f"rules hash: {ruleset.hash}"
    assert "One mechanism, one severity (consistency.csv" in out and "0 without a documented reason" in out


def test_check_accepts_one_of_the_files_for_its_folder(capsys):
    code, out, _ = run(capsys, "rules", "check", str(RULES_DIR / "pair_rules.csv"))
    assert code == 0
    assert f"The rule folder {RULES_DIR} is valid" in out


def test_check_broken_copy_names_file_line_and_field(capsys, tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    path = folder / "pair_rules.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[1].startswith("R01,") and ",contraindicated," in lines[1]
    lines[1] = lines[1].replace(",contraindicated,", ",fatal,", 1)
    path.write_text("\n".join(lines), encoding="utf-8")
    code, out, err = run(capsys, "rules", "check", str(folder))
    assert (code, out) == (2, "")
    message = _one_sentence(err)
    assert f"{path} line 2, field severity:" in message
    assert "'fatal' is not on the severity scale" in message


def test_check_missing_folder_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "rules", "check", str(tmp_path / "nowhere"))
    assert code == 2
    assert "does not exist" in _one_sentence(err)


# ---------------------------------------------------------------------------- rules list


def test_list_class_ssri_shows_each_ssri_with_its_washout(capsys):
    code, out, _ = run(capsys, "rules", "list", "--class", "SSRI")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line.split()[1:2] == ["SSRI"]}
    assert sorted(rows) == [
        "citalopram",
        "escitalopram",
        "fluoxetine",
        "fluvoxamine",
        "paroxetine",
        "sertraline",
        "vilazodone",
        "vortioxetine",
    ]
    assert "35 days" in " ".join(rows["fluoxetine"]) and "21 days" in " ".join(rows["vortioxetine"])
    assert "14 days" in " ".join(rows["sertraline"])
    assert "phenelzine" not in out
    assert "8 drugs;" in out


def test_list_class_is_case_insensitive_and_shows_maoi_washouts(capsys):
    code, out, _ = run(capsys, "rules", "list", "--class", "maoi")
    assert code == 0
    [selegiline] = [line for line in out.splitlines() if line.startswith("selegiline ")]
    assert "14 days" in selegiline and "oral, transdermal" in selegiline


def test_list_comparators_only_with_related(capsys):
    _, out, _ = run(capsys, "rules", "list")
    assert not any(line.startswith("zolpidem ") for line in out.splitlines())
    assert "Comparators used only by the related rules" in out
    _, out, _ = run(capsys, "rules", "list", "--related")
    assert any(line.startswith("zolpidem ") for line in out.splitlines())


def test_list_unknown_class_exits_2_naming_the_classes(capsys):
    code, _, err = run(capsys, "rules", "list", "--class", "benzodiazepine")
    assert code == 2
    message = _one_sentence(err)
    assert "'benzodiazepine' is not a drug class" in message and "SSRI" in message


def test_rules_without_an_action_is_a_usage_error(capsys):
    code, _, err = run(capsys, "rules")
    assert code == 2
    assert "ACTION" in err


# ---------------------------------------------------------------------------- reference import-ndc


def test_import_ndc_fills_ref_ndc_of_the_warehouse(capsys, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    code, out, _ = run(capsys, "reference", "import-ndc", str(NDC_SAMPLE), "--warehouse", str(warehouse))
    assert code == 0
    assert "16 products and 25 packages read; 23 packages contain one or more of 8" in out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT ingredient, route FROM ref_ndc WHERE ndc = '99903090603'").fetchall() == [
            ("selegiline", "transdermal")
        ]


def test_import_ndc_missing_folder_exits_2(capsys, tmp_path):
    code, _, err = run(
        capsys, "reference", "import-ndc", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb")
    )
    assert code == 2
    assert "product.txt is missing" in _one_sentence(err)


# ---------------------------------------------------------------------------- wiring into serosurv


def test_help_is_written_for_a_pharmacist(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["rules", "explain", "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "brand" in help_text and "washout" in help_text


def test_serosurv_main_runs_the_rules_commands_once_wired(capsys):
    from serosurv import cli

    assert cli.main(["rules", "explain", "phenelzine", "sertraline"]) == 0
    assert "CONTRAINDICATED" in capsys.readouterr().out
    assert cli.main(["rules", "explain", "metformin", "sertraline"]) == 2
