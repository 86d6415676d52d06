"""The rule set: faithful to the sourced reference, resolves pairs as documented, refuses broken files."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from serosurv.core.errors import SerosurvError
from serosurv.core.rules import load_rules

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="module")
def ruleset():
    return load_rules()


@pytest.fixture(scope="module")
def ruleset_related():
    return load_rules(include_related=True)


def _reference(name: str) -> list[dict[str, str]]:
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.skip(f"reference file {path} not available")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------- faithful to the reference


def agent_differences(ruleset, reference: list[dict[str, str]]) -> dict[str, set[str]]:
    """{ingredient: fields that differ from the reference} ("new" for agents the reference lacks)."""
    theirs = {row["ingredient"]: row for row in reference}
    out: dict[str, set[str]] = {}
    for name, agent in ruleset.agents.items():
        row = theirs.get(name)
        if row is None:
            out[name] = {"new"}
            continue
        before = row["washout_days_after_stopping_before_maoi_start"]
        after = row["washout_days_after_stopping_maoi_before_serotonergic_start"]
        pairs = {
            "drug_class": (agent.drug_class, row["drug_class"]),
            "mechanism": (agent.mechanism, row["mechanism"].strip()),
            "rxcui": (agent.rxcui, row["rxnorm_ingredient_rxcui"] or None),
            "atc_codes": (";".join(agent.atc_codes), row["atc_codes"]),
            "brand_names": (agent.brand_names, row["us_brand_names"].strip()),
            "notes": (agent.notes, row["notes"].strip()),
            "source": (agent.source, row["source"].strip()),
            "rxcui_source": (agent.rxcui_source, row["rxcui_source"].strip()),
            "atc_source": (agent.atc_source, row["atc_source"].strip()),
            "serotonergic_role": (agent.serotonergic_role, row["serotonergic_role"]),
            "rule_groups": (";".join(agent.rule_groups), row["rule_groups"]),
            "washout_days_before_maoi": (agent.washout_days_before_maoi, int(before) if before else None),
            "washout_days_after_maoi": (agent.washout_days_after_maoi, int(after) if after else None),
            "default_route": (agent.default_route, None),
        }
        fields = {field for field, (ours, reference_value) in pairs.items() if ours != reference_value}
        if fields:
            out[name] = fields
    for name in set(theirs) - set(ruleset.agents):
        out[name] = {"removed"}
    return out


def rule_differences(ruleset, reference: list[dict[str, str]]) -> dict[str, set[str]]:
    """{rule_id: fields that differ from the reference} ("new" for rules the reference lacks)."""
    theirs = {row["rule_id"]: row for row in reference}
    rules = {rule.rule_id: rule for rule in ruleset.rules + ruleset.unrated}
    out: dict[str, set[str]] = {}
    for rule_id, rule in rules.items():
        row = theirs.get(rule_id)
        if row is None:
            out[rule_id] = {"new"}
            continue

        def washout(text: str):
            return "per_drug" if text.startswith("per_drug") else (int(text) if text else None)

        expected_set = "related" if row["serotonin_syndrome_mechanism"] == "no" else "serotonergic"
        pairs = {
            "side_a": (rule.side_a, row["drug_a_class_or_ingredient"].strip()),
            "side_b": (rule.side_b, row["drug_b_class_or_ingredient"].strip()),
            "members_a": ({m.ingredient for m in rule.members_a}, set(row["drug_a_members"].split(";"))),
            "members_b": ({m.ingredient for m in rule.members_b}, set(row["drug_b_members"].split(";"))),
            "severity": (rule.severity_us, row["severity"]),
            "mechanism": (rule.mechanism, row["mechanism"].strip()),
            "clinical_guidance": (rule.clinical_guidance, row["clinical_guidance"].strip()),
            "source": (rule.source, row["source"].strip()),
            "washout_period": (rule.washout_period, row["washout_period"].strip()),
            "washout_a_before_b": (
                rule.washout_a_before_b,
                washout(row["washout_days_after_stopping_a_before_b"]),
            ),
            "washout_b_before_a": (
                rule.washout_b_before_a,
                washout(row["washout_days_after_stopping_b_before_a"]),
            ),
            "severity_basis": (rule.severity_basis, row["severity_basis"].strip()),
            "ansm_level": (rule.ansm_level, row["ansm_level"].strip()),
            "serotonin_syndrome_mechanism": (
                rule.serotonin_syndrome_mechanism,
                row["serotonin_syndrome_mechanism"],
            ),
            "rule_set": (rule.rule_set, expected_set),
        }
        fields = {field for field, (ours, reference_value) in pairs.items() if ours != reference_value}
        if fields:
            out[rule_id] = fields
    return out


def _documented_changes() -> dict[tuple[str, str], set[str]]:
    with (RULES_DIR / "changes.csv").open(encoding="utf-8", newline="") as handle:
        return {(row["file"], row["key"]): set(row["fields"].split(";")) for row in csv.DictReader(handle)}


def test_every_reference_agent_is_carried_over_or_its_change_documented(ruleset_related):
    differences = agent_differences(ruleset_related, _reference("serotonergic_agents.csv"))
    documented = {
        key: fields for (file, key), fields in _documented_changes().items() if file == "agents.csv"
    }
    assert differences == documented


def test_every_reference_rule_is_carried_over_or_its_change_documented(ruleset_related):
    differences = rule_differences(ruleset_related, _reference("interaction_rules.csv"))
    documented = {
        key: fields for (file, key), fields in _documented_changes().items() if file == "pair_rules.csv"
    }
    assert differences == documented


def test_every_documented_change_gives_its_reason_and_source():
    with (RULES_DIR / "changes.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert row["change"].strip() and row["source"].strip(), row


def test_verification_marks_from_the_reference_stay_visible(ruleset, ruleset_related):
    assert "not yet verified" in ruleset.agents["milnacipran"].verification_note
    assert "Emsam" in ruleset.agents["selegiline"].verification_note
    rules = {rule.rule_id: rule for rule in ruleset_related.rules}
    assert "not yet verified" in rules["R30"].verification_note
    assert "not re-verified" in rules["R29"].verification_note


def test_related_rules_are_off_by_default(ruleset, ruleset_related):
    assert ruleset.rule_set_names == ("serotonergic", "maoi")
    assert {rule.rule_set for rule in ruleset.rules} == {"serotonergic", "maoi"}
    assert ruleset_related.rule_set_names == ("serotonergic", "maoi", "related")
    with (RULES_DIR / "pair_rules.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    us_rated = [row for row in rows if row["severity"]]
    assert len(ruleset_related.rules) == len(us_rated)
    assert len(ruleset.rules) == sum(row["rule_set"] != "related" for row in us_rated)


def test_serotonergic_ingredients_come_from_active_rules_only(ruleset, ruleset_related):
    assert {"sertraline", "tramadol", "phenelzine", "methylene blue"} <= ruleset.serotonergic_ingredients()
    assert "zolpidem" not in ruleset.serotonergic_ingredients()
    assert "oxycodone" not in ruleset.serotonergic_ingredients()
    assert {"zolpidem", "oxycodone"} <= ruleset_related.serotonergic_ingredients()


def test_hash_is_stable_and_follows_the_file_bytes(tmp_path, ruleset):
    assert load_rules().hash == ruleset.hash
    copy = _copy_rules(tmp_path)
    assert load_rules(copy).hash == ruleset.hash
    with (copy / "pair_rules.csv").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    assert load_rules(copy).hash != ruleset.hash


# ---------------------------------------------------------------------------- resolution


def test_tramadol_and_sertraline_is_moderate(ruleset):
    resolution = ruleset.resolve("tramadol", "sertraline")
    assert (resolution.winner.rule_id, resolution.winner.severity) == ("R44", "moderate")


def test_tramadol_and_fluoxetine_is_major_because_of_cyp2d6(ruleset):
    resolution = ruleset.resolve("tramadol", "fluoxetine")
    assert (resolution.winner.rule_id, resolution.winner.severity) == ("R45", "major")
    assert any("CYP2D6" in rule.mechanism for rule in resolution.matches)
    assert [rule.severity for rule in resolution.matches] == ["major", "moderate", "moderate"]


def test_phenelzine_and_sertraline_is_contraindicated_with_14_day_washouts_both_ways(ruleset):
    resolution = ruleset.resolve("phenelzine", "sertraline")
    assert resolution.winner.severity == "contraindicated"
    assert (resolution.washout_a_then_b, resolution.washout_b_then_a) == (14, 14)


def test_fluoxetine_needs_35_days_before_an_maoi(ruleset):
    resolution = ruleset.resolve("fluoxetine", "phenelzine")
    assert (resolution.washout_a_then_b, resolution.washout_b_then_a) == (35, 14)


def test_linezolid_and_escitalopram_is_contraindicated(ruleset):
    resolution = ruleset.resolve("linezolid", "escitalopram")
    assert (resolution.winner.rule_id, resolution.winner.severity) == ("R31", "contraindicated")
    assert (resolution.washout_a_then_b, resolution.washout_b_then_a) == (1, 14)


def test_linezolid_and_clomipramine_most_severe_rule_wins(ruleset):
    resolution = ruleset.resolve("clomipramine", "linezolid")
    assert resolution.winner.rule_id == "R35"
    assert "R65" in [rule.rule_id for rule in resolution.matches]


def test_sumatriptan_and_sertraline_is_minor_with_the_evidence_note(ruleset):
    winner = ruleset.resolve("sumatriptan", "sertraline").winner
    assert (winner.rule_id, winner.severity) == ("R51", "minor")
    assert "Orlova" in winner.severity_basis and "DOWNGRADED" in winner.severity_basis


def test_ondansetron_and_fentanyl_is_minor(ruleset):
    assert ruleset.resolve("ondansetron", "fentanyl").winner.severity == "minor"


@pytest.mark.parametrize("comparator", ["zolpidem", "oxycodone"])
def test_non_serotonergic_comparators_only_match_with_related_rules(ruleset, ruleset_related, comparator):
    assert ruleset.resolve(comparator, "sertraline").winner is None
    assert ruleset.resolve(comparator, "sertraline").matches == ()
    winner = ruleset_related.resolve(comparator, "sertraline").winner
    assert (winner.severity, winner.rule_set) == ("minor", "related")


def test_same_ingredient_never_interacts_with_itself(ruleset):
    assert ruleset.resolve("sertraline", "sertraline").winner is None


def test_transdermal_selegiline_is_contraindicated_oral_is_major(ruleset):
    assert ruleset.resolve("selegiline", "sertraline").winner.rule_id == "R29"
    assert ruleset.resolve("selegiline", "sertraline", route_a="oral").winner.rule_id == "R29"
    transdermal = ruleset.resolve("sertraline", "selegiline", route_b="transdermal")
    assert (transdermal.winner.rule_id, transdermal.winner.severity) == ("R30", "contraindicated")


def test_resolve_refuses_unknown_ingredients(ruleset):
    with pytest.raises(SerosurvError, match="metformin"):
        ruleset.resolve("metformin", "sertraline")


def test_explain_accepts_brand_and_salt_names(ruleset):
    from serosurv import api

    explanation = api.explain("Ultram 50 mg tab", "fluoxetine HCl")
    assert explanation.a_ingredients == [("tramadol", None)]
    [pair] = explanation.pairs
    assert pair.winner["rule_id"] == "R45"
    assert [m["rule_id"] for m in pair.matches] == ["R45", "R44", "R65"]
    assert explanation.rules_hash == ruleset.hash


def test_explain_refuses_names_it_does_not_know():
    from serosurv import api

    with pytest.raises(SerosurvError, match="metformin"):
        api.explain("metformin", "sertraline")


# ---------------------------------------------------------------------------- pair table


def test_pair_table_columns_and_types(ruleset):
    table = ruleset.pair_table()
    assert table.schema == pl.Schema(
        {
            "ingredient_a": pl.String,
            "ingredient_b": pl.String,
            "rule_id": pl.String,
            "severity": pl.String,
            "severity_rank": pl.Int32,
            "route_a": pl.String,
            "route_b": pl.String,
            "washout_a_then_b": pl.Int32,
            "washout_b_then_a": pl.Int32,
            "min_overlap_days": pl.Int32,
            "rule_set": pl.String,
        }
    )


def test_pair_table_has_one_alphabetical_row_per_pair_and_route(ruleset):
    table = ruleset.pair_table()
    assert table.filter(pl.col("ingredient_a") >= pl.col("ingredient_b")).height == 0
    keys = table.select("ingredient_a", "ingredient_b", "route_a", "route_b")
    assert keys.unique().height == table.height
    assert set(table["rule_set"].unique()) == {"serotonergic", "maoi"}


def test_pair_table_resolves_per_drug_washouts_in_alphabetical_order(ruleset):
    row = ruleset.pair_table().filter(ingredient_a="fluoxetine", ingredient_b="phenelzine").to_dicts()
    assert row == [
        {
            "ingredient_a": "fluoxetine",
            "ingredient_b": "phenelzine",
            "rule_id": "R01",
            "severity": "contraindicated",
            "severity_rank": 4,
            "route_a": None,
            "route_b": None,
            "washout_a_then_b": 35,
            "washout_b_then_a": 14,
            "min_overlap_days": 1,
            "rule_set": "serotonergic",
        }
    ]


def test_pair_table_swaps_washouts_when_side_b_sorts_first(ruleset):
    # R31: side a linezolid, side b SSRIs; "escitalopram" sorts before "linezolid".
    row = (
        ruleset.pair_table().filter(ingredient_a="escitalopram", ingredient_b="linezolid").row(0, named=True)
    )
    assert (row["washout_a_then_b"], row["washout_b_then_a"]) == (14, 1)


def test_pair_table_keeps_a_route_row_for_transdermal_selegiline(ruleset):
    rows = ruleset.pair_table().filter(ingredient_a="selegiline", ingredient_b="sertraline")
    assert rows.select("route_a", "rule_id", "severity").sort("route_a", nulls_last=False).rows() == [
        (None, "R29", "major"),
        ("transdermal", "R30", "contraindicated"),
    ]


def test_pair_table_agrees_with_resolve(ruleset):
    for row in (
        ruleset.pair_table()
        .filter(pl.col("route_a").is_null() & pl.col("route_b").is_null())
        .iter_rows(named=True)
    ):
        resolution = ruleset.resolve(row["ingredient_a"], row["ingredient_b"])
        assert resolution.winner.rule_id == row["rule_id"]
        assert (resolution.washout_a_then_b, resolution.washout_b_then_a) == (
            row["washout_a_then_b"],
            row["washout_b_then_a"],
        )


# ---------------------------------------------------------------------------- loader errors


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def _break(tmp_path: Path, file: str, old: str, new: str) -> tuple[Path, int]:
    """A copy of rules/ with the first `old` in `file` replaced; returns the folder and the edited line."""
    folder = _copy_rules(tmp_path)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    position = text.index(old)
    path.write_text(text[:position] + new + text[position + len(old) :], encoding="utf-8")
    return folder, text[:position].count("\n") + 1


def _assert_error(folder: Path, file: str, line: int, field: str, words: str) -> None:
    with pytest.raises(SerosurvError) as caught:
        load_rules(folder)
    message = str(caught.value)
    assert f"{file} line {line}, field {field}:" in message
    assert re.search(words, message), message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert caught.value.exit_code == 2


def test_unknown_group_tag_is_refused(tmp_path):
    folder, line = _break(
        tmp_path,
        "pair_rules.csv",
        "R01,group:MAOI_NONSELECTIVE_IRREVERSIBLE + ingredient:selegiline@transdermal;moclobemide,group:SSRI,",
        "R01,group:MAOI_NONSELECTIVE_IRREVERSIBLE + ingredient:selegiline@transdermal;moclobemide,group:SSRIX,",
    )
    _assert_error(folder, "pair_rules.csv", line, "side_b", "unknown group tag 'SSRIX'")


def test_unknown_ingredient_in_a_rule_is_refused(tmp_path):
    folder, line = _break(tmp_path, "pair_rules.csv", "ingredient:meperidine,", "ingredient:maprotiline,")
    _assert_error(folder, "pair_rules.csv", line, "side_b", "unknown ingredient 'maprotiline'")


def test_unknown_ingredient_in_a_synonym_is_refused(tmp_path):
    folder, line = _break(tmp_path, "synonyms.csv", "zoloft,sertraline,", "zoloft,sertralin,")
    _assert_error(folder, "synonyms.csv", line, "ingredients", "unknown ingredient 'sertralin'")


def test_duplicate_rule_ids_are_refused(tmp_path):
    folder, line = _break(tmp_path, "pair_rules.csv", "\nR02,", "\nR01,")
    _assert_error(folder, "pair_rules.csv", line + 1, "rule_id", "duplicate rule id 'R01'")


def test_duplicate_agents_are_refused(tmp_path):
    folder, line = _break(tmp_path, "agents.csv", "\nsertraline,", "\nfluoxetine,")
    _assert_error(folder, "agents.csv", line + 1, "ingredient", "duplicate agent 'fluoxetine'")


def test_side_that_expands_to_nothing_is_refused(tmp_path):
    folder, line = _break(
        tmp_path,
        "pair_rules.csv",
        "R01,group:MAOI_NONSELECTIVE_IRREVERSIBLE + ingredient:selegiline@transdermal;moclobemide,",
        "R01,group:MAOI_NONSELECTIVE_IRREVERSIBLE + ingredient:,",
    )
    _assert_error(folder, "pair_rules.csv", line, "side_a", "expands to nothing")


@pytest.mark.parametrize("washout", ["-3", "1.5", "two weeks"])
def test_washout_that_is_not_a_whole_number_of_days_is_refused(tmp_path, washout):
    folder, line = _break(tmp_path, "pair_rules.csv", "14,per_drug,1,", f"{washout},per_drug,1,")
    _assert_error(folder, "pair_rules.csv", line, "washout_a_before_b", "not a valid washout")


def test_agent_washout_that_is_negative_is_refused(tmp_path):
    folder, line = _break(tmp_path, "agents.csv", "SSRI;SEROTONERGIC,35,", "SSRI;SEROTONERGIC,-35,")
    _assert_error(folder, "agents.csv", line, "washout_days_before_maoi", "not a valid washout")


def test_severity_outside_the_scale_is_refused(tmp_path):
    folder, line = _break(tmp_path, "pair_rules.csv", "group:SSRI,contraindicated,", "group:SSRI,severe,")
    _assert_error(folder, "pair_rules.csv", line, "severity", "'severe' is not on the severity scale")


@pytest.mark.parametrize(
    ("file", "column"),
    [
        ("agents.csv", "washout_days_before_maoi"),
        ("pair_rules.csv", "severity"),
        ("synonyms.csv", "source"),
    ],
)
def test_missing_required_column_is_refused(tmp_path, file, column):
    folder, _ = _break(tmp_path, file, f",{column}", ",renamed_column")
    _assert_error(folder, file, 1, column, "required column is missing")


def test_route_qualifier_must_be_a_route_that_matters(tmp_path):
    folder, line = _break(tmp_path, "pair_rules.csv", "selegiline@transdermal", "selegiline@rectal")
    _assert_error(folder, "pair_rules.csv", line, "side_a", "route 'rectal' is not tracked for selegiline")


def test_row_without_source_is_refused(tmp_path):
    folder = _copy_rules(tmp_path)
    path = folder / "synonyms.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "zolpidem tartrate,zolpidem,,,\n", encoding="utf-8")
    _assert_error(folder, "synonyms.csv", text.count("\n") + 1, "source", "value is empty")


# ---------------------------------------------------------------------------- one mechanism, one level


def test_shipped_rules_have_no_unexplained_difference_within_a_mechanism_group():
    from serosurv.core.rules_consistency import check_consistency

    for jurisdiction in ("us", "strictest"):
        findings = check_consistency(load_rules(jurisdiction=jurisdiction), RULES_DIR)
        assert findings, "the check compares something"
        assert [f.sentence() for f in findings if not f.explained] == [], jurisdiction


def test_rules_check_reports_an_maoi_rated_lower_than_another_without_a_reason(tmp_path, capsys):
    from serosurv import api
    from serosurv.cli import text

    def check_rules(folder, strict=False):
        found = api.check_rules(folder)
        if strict and found.unexplained:
            raise SerosurvError("rated below another drug of the same mechanism")
        return text.rules_check(found)

    # the reference's phenelzine + St John's wort: moderate, while rasagiline + St John's wort is contraindicated
    folder, _ = _break(
        tmp_path,
        "pair_rules.csv",
        "R22,group:MAOI_NONSELECTIVE_IRREVERSIBLE,ingredient:st john's wort,contraindicated,",
        "R22,group:MAOI_NONSELECTIVE_IRREVERSIBLE,ingredient:st john's wort,moderate,",
    )
    (folder / "pair_rules.csv").write_text(
        (folder / "pair_rules.csv")
        .read_text(encoding="utf-8")
        .replace(
            "R86,group:MAOI_NONSELECTIVE_IRREVERSIBLE,group:SEROTONERGIC - ingredient:lithium",
            "R86,group:MAOI_NONSELECTIVE_IRREVERSIBLE,group:SEROTONERGIC - ingredient:lithium;st john's wort",
        ),
        encoding="utf-8",
    )
    report = check_rules(folder)
    assert "1 without a documented reason" in report
    assert "NOT EXPLAINED: MAO inhibitors + st john's wort: phenelzine moderate (R22)" in report
    assert "rasagiline contraindicated (R21)" in report or "tranylcypromine" in report
    with pytest.raises(SerosurvError, match="rated below another drug of the same mechanism"):
        check_rules(folder, strict=True)


def test_rules_check_lists_the_documented_differences_with_their_reasons():
    from serosurv import api
    from serosurv.cli import text

    report = text.rules_check(api.check_rules(None), show_all=True)
    assert "0 without a documented reason" in report
    assert (
        "explained: MAO inhibitors + sertraline:" in report
        and "intended to treat psychiatric disorders" in report
    )


def test_a_rule_with_neither_level_is_refused(tmp_path):
    folder, line = _break(
        tmp_path,
        "pair_rules.csv",
        "R12,group:MAOI_B,group:TRIPTAN_MAO_A_SUBSTRATE,,contraindicated,",
        "R12,group:MAOI_B,group:TRIPTAN_MAO_A_SUBSTRATE,,,",
    )
    _assert_error(folder, "pair_rules.csv", line, "severity", "neither a US severity nor an ANSM one")


def test_explain_shows_both_levels_and_the_rules_not_applied(ruleset):
    from serosurv import api
    from serosurv.cli.text import explanation

    def explain_pair(a, b, **kw):
        return explanation(api.explain(a, b, **kw))

    text = explain_pair("Azilect", "Imitrex 50 mg")
    assert "rasagiline + sumatriptan: MINOR (rule R66" in text
    assert "Not applied here" in text and "R12  US none" in text and "ANSM contraindicated" in text
    french = explain_pair("Azilect", "Imitrex 50 mg", jurisdiction="fr")
    assert "rasagiline + sumatriptan: CONTRAINDICATED (rule R12" in french
    assert "Levels: US none (no US source); French ANSM contraindicated" in french
    linezolid = explain_pair("Zyvox", "Remeron")
    assert "linezolid + mirtazapine: CONTRAINDICATED (rule R82" in linezolid
    assert "after stopping linezolid wait 1 day (24 hours) before starting mirtazapine" in linezolid
    assert "ucm327848" in linezolid  # the Remeron labelling change is cited


def test_side_exclusions_leave_ingredients_out(ruleset):
    r86 = next(rule for rule in ruleset.rules if rule.rule_id == "R86")
    assert "lithium" not in {m.ingredient for m in r86.members_b}
    assert "sertraline" in {m.ingredient for m in r86.members_b}


def test_burden_membership_is_a_checked_column_of_agents_csv(tmp_path):
    ruleset = load_rules()
    burden = ruleset.burden_ingredients()
    assert {"sertraline", "tramadol", "phenelzine", "linezolid"} <= burden
    assert not {"zolpidem", "pseudoephedrine"} & burden  # not serotonergic: never part of a burden period
    assert burden <= ruleset.serotonergic_ingredients()
    assert all(ruleset.agents[name].counts_toward_burden for name in burden)
    folder, line = _break(
        tmp_path, "agents.csv", "serotonergic (strong),yes,SSRI", "serotonergic (strong),maybe,SSRI"
    )
    _assert_error(folder, "agents.csv", line, "counts_toward_burden", "'maybe' is not yes or no")
    folder, line = _break(
        tmp_path / "b", "agents.csv", "not serotonergic (comparator),no", "not serotonergic (comparator),yes"
    )
    _assert_error(
        folder,
        "agents.csv",
        line,
        "counts_toward_burden",
        "is 'not serotonergic \\(comparator\\)' but counts",
    )
    folder = _copy_rules(tmp_path / "c")  # tramadol stops counting: burden loses it, nothing else
    text = (folder / "agents.csv").read_text(encoding="utf-8").splitlines()
    index = next(i for i, row in enumerate(text) if row.startswith("tramadol,"))
    text[index] = text[index].replace(",yes,", ",no,", 1)
    (folder / "agents.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    assert load_rules(folder).burden_ingredients() == burden - {"tramadol"}
