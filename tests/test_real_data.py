"""Real data nobody here wrote (../shared/datasets): the whole night on MIMIC-IV demo and Synthea27Nj OMOP.

The facts checked were verified by hand against the source files (docs/real-data.md). Skips when
../shared is absent.
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import SHARED, query

DATASETS = SHARED / "datasets"
MIMIC = DATASETS / "mimic-iv-demo" / "hosp"
OMOP = DATASETS / "synthea27nj-omop"
EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"

pytestmark = pytest.mark.skipif(
    not (MIMIC / "prescriptions.csv.gz").is_file() or not (OMOP / "drug_exposure.csv").is_file(),
    reason=f"real datasets not found under {DATASETS}",
)


@pytest.fixture(scope="module")
def mimic(prefect_harness, tmp_path_factory):
    from serosurv import api

    out = tmp_path_factory.mktemp("mimic")
    result = api.run(
        [MIMIC / "prescriptions.csv.gz"],
        patients=MIMIC / "patients.csv.gz",
        fmt="mimic-iv",
        as_of=date(2201, 12, 17),
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
    )
    return result, out / "serosurv.duckdb"


@pytest.fixture(scope="module")
def omop(prefect_harness, tmp_path_factory):
    from serosurv import api

    out = tmp_path_factory.mktemp("omop")
    result = api.run(
        [OMOP],
        fmt="omop",
        as_of=date(2022, 10, 10),
        out_dir=out,
        warehouse=Path(out) / "serosurv.duckdb",
        config_file=EXAMPLES / "synthea-omop.toml",
    )
    return result, out / "serosurv.duckdb"


def test_mimic_rows_reconcile_with_the_source(mimic):
    result, warehouse = mimic
    with gzip.open(MIMIC / "prescriptions.csv.gz", "rt") as handle:
        source_rows = sum(1 for _ in handle) - 1
    assert source_rows == 18_087
    runs = query(warehouse, "SELECT rows_read, rows_accepted, rows_quarantined, status FROM runs")
    assert runs == [(18_087, 14_410, 3_677, "success")]
    assert query(warehouse, "SELECT reason_code, count(*) FROM quarantine GROUP BY ALL") == [
        ("not_a_drug_order", 3_677)
    ]
    assert query(warehouse, "SELECT count(*) FROM patients") == [(100,)]
    assert result.reports and all(Path(path).is_file() for path in result.reports.values())


def test_mimic_amitriptyline_and_sertraline_from_two_prescribers_interact(mimic):
    _, warehouse = mimic
    rows = query(
        warehouse,
        "SELECT first_overlap_date, overlap_days, prescriber_ids_a, prescriber_ids_b, cross_prescriber, severity "
        "FROM interactions WHERE patient_id = '10002930' AND ingredient_a = 'amitriptyline' "
        "AND ingredient_b = 'sertraline' ORDER BY first_overlap_date",
    )
    assert rows[0] == (date(2193, 8, 6), 6, ["P36XXQ"], ["P33SZF"], True, "moderate")
    # 2197-04-12: sertraline stopped at 13:00 and amitriptyline started at 20:00 by the same prescriber;
    # with day granularity that switch is one overlap day, not cross-prescriber.
    assert rows[1] == (date(2197, 4, 12), 1, ["P47YSL"], ["P47YSL"], False, "moderate")


def test_mimic_major_interactions_and_mapping(mimic):
    _, warehouse = mimic
    major = query(
        warehouse,
        "SELECT patient_id, ingredient_a, ingredient_b, cross_prescriber FROM interactions "
        "WHERE severity = 'major' ORDER BY ALL",
    )
    assert major == [
        ("10002428", "bupropion", "tramadol", False),
        ("10040025", "bupropion", "tramadol", True),
    ]
    # The bupropion label contraindicates starting it during linezolid (issue 14; was major by R37).
    assert query(
        warehouse,
        "SELECT patient_id, ingredient_a, ingredient_b, rule_id, cross_prescriber FROM interactions "
        "WHERE severity = 'contraindicated'",
    ) == [("10040025", "bupropion", "linezolid", "R83", True)]
    # Every order whose name names a serotonergic ingredient is mapped: 1,383 before issue 14 + carbamazepine
    # (3 orders) and pseudoephedrine (2), now agents. Since issue 17 the shipped NDC crosswalk maps 861 of them
    # by NDC with no import (the same ingredients as their names); the other 527 carry NDCs that current
    # RxNorm does not list, and fall back to their names.
    assert query(
        warehouse,
        "SELECT mapped_by, count(DISTINCT claim_id) FROM fill_ingredients GROUP BY ALL ORDER BY ALL",
    ) == [("name", 527), ("ndc", 861)]
    assert query(
        warehouse, "SELECT field, fills, field_maps, mapped_by_field FROM night_mapping ORDER BY field"
    ) == [("drug_name", 14_410, 1_388, 527), ("ndc", 13_660, 861, 861)]


def test_mimic_orders_without_stoptime_are_ongoing_to_the_night(mimic):
    """14 rows have no stoptime: 4 BASE (quarantined as before), 10 MAIN orders kept as ongoing. Two map
    to rule drugs; one changes an interaction, checked by hand against the rows of patient 10027602:
    fentanyl order 27168639 (2201-10-30 12:00, no stoptime, no order_provider_id) now runs to the night
    (49 days, under the 90-day cap) and meets ondansetron 11462301 (10-30 13:00 to 10-31), 36041736 (10-31
    to 11-20) and 15616219 (12-11 to 12-17): 22 + 7 = 29 days, one interaction (the 20-day gap is within
    merge_gap_days); before, the order was one day and the overlap 1 day."""
    _, warehouse = mimic
    assert query(warehouse, "SELECT count(*) FROM claims WHERE ongoing") == [(10,)]
    assert query(warehouse, "SELECT ongoing_claims FROM night_profiles") == [(10,)]
    assert query(
        warehouse,
        "SELECT claim_id, ingredient, exposure_start, exposure_end FROM fill_exposure WHERE ongoing ORDER BY 1",
    ) == [
        ("27168639", "fentanyl", date(2201, 10, 30), date(2201, 12, 17)),  # to the night
        ("47755105", "ondansetron", date(2116, 2, 29), date(2116, 5, 28)),  # capped: 90 days
    ]
    assert query(
        warehouse,
        "SELECT first_overlap_date, last_overlap_date, overlap_days, cross_prescriber, claim_ids_b "
        "FROM interactions WHERE patient_id = '10027602' AND ingredient_a = 'fentanyl'",
    ) == [(date(2201, 10, 30), date(2201, 12, 17), 29, None, ["11462301", "15616219", "36041736"])]
    assert query(warehouse, "SELECT count(*) FROM interactions") == [(205,)]


def test_omop_rows_reconcile_and_the_tramadol_dextromethorphan_overlap_is_found(omop):
    _, warehouse = omop
    assert query(warehouse, "SELECT rows_read, rows_accepted, rows_quarantined FROM runs") == [(883, 883, 0)]
    assert query(warehouse, "SELECT count(*), count(coverage_start) FROM patients") == [(28, 28)]
    rows = query(
        warehouse,
        "SELECT patient_id, ingredient_a, ingredient_b, severity, kind, cross_prescriber FROM interactions",
    )
    assert rows == [("20", "dextromethorphan", "tramadol", "moderate", "overlap", True)]
    # Synthea's drug_concept_ids are RxNorm clinical and branded drug codes: since issue 17 every mapped
    # exposure maps by its code through the shipped crosswalk (before, all 54 fell back to their names).
    assert query(
        warehouse, "SELECT mapped_by, count(DISTINCT claim_id) FROM fill_ingredients GROUP BY ALL"
    ) == [("rxcui", 54)]


def test_mimic_declares_no_pharmacy_and_the_gate_judges_the_night_as_a_whole(mimic):
    """MIMIC's orders carry no dispensing pharmacy (its pharmacy_id is an order id): the gate does not judge
    pharmacies and the report says that fragmentation across pharmacies cannot be measured; the checks it
    can judge pass on this real extract on default settings."""
    result, warehouse = mimic
    assert query(warehouse, "SELECT absent_fields FROM night_profiles") == [("pharmacy_id",)]
    outcome = dict(query(warehouse, "SELECT check_name, status FROM dq_results"))
    assert outcome["known_pharmacy_share"] == "not_judged"
    assert outcome["known_prescriber_share"] == "passed"
    assert "stopped" not in outcome.values()
    report = result.reports["report"].read_text()
    assert "Fragmentation cannot be measured for this source</b> across pharmacies" in report
    assert (result.reports["report"].parent / "data-quality.html").is_file()


SYNPUF = DATASETS / "synpuf50-omop"


@pytest.fixture(scope="module")
def synpuf(prefect_harness, tmp_path_factory):
    from serosurv import api

    if not (SYNPUF / "drug_exposure.csv").is_file():
        pytest.skip(f"DE-SynPUF OMOP not found under {SYNPUF}")
    out = tmp_path_factory.mktemp("synpuf")
    result = api.run(
        [SYNPUF], fmt="omop", as_of=date(2010, 12, 30), out_dir=out, warehouse=Path(out) / "serosurv.duckdb"
    )
    return result, out / "serosurv.duckdb"


def test_synpuf_maps_by_its_ndcs_and_rxnorm_codes_on_defaults(synpuf):
    """DE-SynPUF 2008-2010: NDCs in drug_source_value, RxNorm clinical/branded drug codes in drug_concept_id.
    Codes retired since (not in the shipped current crosswalk) fall back to their names; every mapped
    exposure was checked to map to the same ingredients by its name."""
    _, warehouse = synpuf
    assert query(warehouse, "SELECT rows_read, rows_accepted, rows_quarantined FROM runs") == [
        (2_140, 2_090, 50)
    ]
    assert query(warehouse, "SELECT reason_code, count(*) FROM quarantine GROUP BY ALL") == [
        ("missing_drug", 50)
    ]
    assert query(
        warehouse,
        "SELECT mapped_by, count(DISTINCT claim_id) FROM fill_ingredients GROUP BY ALL ORDER BY ALL",
    ) == [("name", 38), ("ndc", 24), ("rxcui", 124)]  # before issue 17: name 184, rxcui 2
    assert query(warehouse, "SELECT count(*) FROM interactions") == [(27,)]
    # checked by hand against drug_exposure.csv (rows 6192312 and 6192306; 4105055 and 4105103), with the
    # end dates the ETL wrote one day late moved back a day (THEMIS): paroxetine's last day 08-17 (7 days),
    # trazodone's 02-17 (19 days)
    assert query(
        warehouse,
        "SELECT patient_id, ingredient_a, ingredient_b, first_overlap_date, overlap_days, severity FROM interactions "
        "WHERE patient_id IN ('114564', '76230') ORDER BY patient_id",
    ) == [
        ("114564", "bupropion", "paroxetine", date(2010, 8, 11), 7, "minor"),
        ("76230", "lithium", "trazodone", date(2009, 1, 30), 19, "moderate"),
    ]
    # per field: the NDCs of 2008-2010 are mostly retired (not in the current RxNorm the crosswalk ships), so
    # the NDC column maps 24 of the 177 rule-drug exposures beside a name, the RxNorm column 147 of 185
    assert query(
        warehouse,
        "SELECT field, fills, field_maps, mapped_by_field, beside_name, beside_name_by_code FROM night_mapping "
        "ORDER BY field",
    ) == [
        ("drug_name", 2_073, 186, 38, 0, 0),
        ("ndc", 1_896, 24, 24, 177, 24),
        ("rxcui", 2_025, 147, 124, 185, 147),
    ]
    # the profile keeps the weakest column; 177 exposures are too few for the gate to judge on defaults
    assert query(warehouse, "SELECT code_systems, code_and_name_claims FROM night_profiles") == [("NDC", 177)]
    assert query(warehouse, "SELECT status FROM dq_results WHERE check_name = 'code_vs_name_share'") == [
        ("not_judged",)
    ]
