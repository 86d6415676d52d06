"""Real data nobody here wrote (../shared/datasets), issue 17: CMS's RIF Part D events and beneficiary file
(cms-bfd-pde) and 50 DE-SynPUF persons in OMOP (synpuf50-omop), each a night on the default settings.

Every number below was checked by hand against the source files (docs/real-data.md, "CMS PDE/RIF" and
"DE-SynPUF 50 persons in OMOP"). Skips when ../shared is absent.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SHARED, query

DATASETS = SHARED / "datasets"
PDE = DATASETS / "cms-bfd-pde"
SYNPUF = DATASETS / "synpuf50-omop"

pytestmark = pytest.mark.skipif(
    not (PDE / "pde.csv").is_file() or not (SYNPUF / "drug_exposure.csv").is_file(),
    reason=f"real datasets cms-bfd-pde and synpuf50-omop not found under {DATASETS}",
)


@pytest.fixture(scope="module")
def synpuf(prefect_harness, tmp_path_factory):
    from serosurv import api

    out = tmp_path_factory.mktemp("synpuf")
    result = api.run(
        [SYNPUF], fmt="omop", as_of=date(2010, 12, 31), out_dir=out, warehouse=out / "serosurv.duckdb"
    )
    return result, out / "serosurv.duckdb"


@pytest.fixture(scope="module")
def rif(prefect_harness, tmp_path_factory):
    from serosurv import api

    out = tmp_path_factory.mktemp("rif")
    result = api.run(
        [PDE / "pde.csv"],
        patients=PDE / "beneficiary_2021.csv",
        fmt="pde",
        as_of=date(2021, 4, 4),
        out_dir=out,
        warehouse=out / "serosurv.duckdb",
    )
    return result, out / "serosurv.duckdb"


# ---------------------------------------------------------------------------- DE-SynPUF in OMOP


def test_synpuf_rows_reconcile_and_the_quarantine_is_the_procedures(synpuf):
    result, warehouse = synpuf
    assert sum(1 for _ in (SYNPUF / "drug_exposure.csv").open()) - 1 == 2_140
    assert query(warehouse, "SELECT rows_read, rows_accepted, rows_quarantined, status FROM runs") == [
        (2_140, 2_090, 50, "success")
    ]
    # 44 rows of CPT4 vaccine concepts that concept.csv names nothing (90656, 90658 influenza, 90732
    # pneumococcal, 90746 hepatitis B), and 6 of drug_concept_id 0 whose source value is a HCPCS G-code
    # (G9141, G9142: influenza A (H1N1) immunization administration): no drug name, RxNorm code or NDC.
    got = query(
        warehouse,
        "SELECT raw->>'drug_source_value', count(*) FROM quarantine WHERE reason_code = 'missing_drug' "
        "GROUP BY ALL ORDER BY 1",
    )
    assert got == [("90656", 10), ("90658", 29), ("90732", 4), ("90746", 1), ("G9141", 5), ("G9142", 1)]
    reasons = query(
        warehouse,
        "SELECT DISTINCT reason FROM quarantine WHERE raw->>'drug_source_value' IN ('90658', 'G9141') ORDER BY 1",
    )
    assert reasons == [
        ("drug_concept_id 2213440 (CPT4 90658) has no name in the concept table and drug_source_value '90658' "
         "is no NDC",),
        ("drug_concept_id is 0 (no matching concept) and drug_source_value 'G9141' is no NDC",),
    ]  # fmt: skip
    assert query(warehouse, "SELECT count(DISTINCT patient_id) FROM claims") == [(43,)]
    assert query(warehouse, "SELECT count(*) FROM patients") == [(50,)]


def test_synpuf_end_dates_one_day_late_are_corrected_and_reported(synpuf):
    """The ETL wrote end = start + days_supply on every row with a supply (1,845 of 2,140; the other 295
    have no supply); each becomes start + days_supply - 1 and the report says how many."""
    result, warehouse = synpuf
    assert result.counts["omop_end_dates_corrected"] == 1_845
    assert query(warehouse, "SELECT value FROM attrition WHERE measure = 'omop_end_dates_corrected'") == [
        (1_845,)
    ]
    # 588777: doxepin from 2010-01-12, 20 days, end date written 2010-02-01: the last day is 01-31.
    assert query(
        warehouse, "SELECT fill_date, end_date, days_supply FROM claims WHERE claim_id = '588777'"
    ) == [(date(2010, 1, 12), date(2010, 1, 31), None)]
    report = Path(result.reports["report"]).read_text()
    assert "1,845 OMOP drug exposure(s) ended on their start date plus" in report


def test_synpuf_concept_id_0_rows_keep_their_ndc(synpuf):
    _, warehouse = synpuf
    # 23 rows have drug_concept_id 0: 17 carry an NDC in drug_source_value (the drug, kept), 6 a G-code.
    ndcs = [
        line.split(",")[18] for line in (SYNPUF / "drug_exposure.csv").open() if line.split(",")[2] == "0"
    ]
    assert len(ndcs) == 23 and sum(n.isdigit() and len(n) == 11 for n in ndcs) == 17
    got = query(
        warehouse,
        "SELECT count(*), count(DISTINCT ndc) FROM claims "
        "WHERE list_contains($ndcs, ndc) AND rxcui IS NULL AND drug_name IS NULL",
        {"ndcs": ndcs},
    )
    assert got == [(17, 17)]


def test_synpuf_interactions_checked_by_hand(synpuf):
    _, warehouse = synpuf
    assert query(warehouse, "SELECT severity, count(*) FROM interactions GROUP BY ALL ORDER BY 1") == [
        ("minor", 6),
        ("moderate", 21),
    ]
    assert query(warehouse, "SELECT count(DISTINCT patient_id) FROM interactions") == [(11,)]
    columns = (
        "ingredient_a, ingredient_b, rule_id, severity, first_overlap_date, last_overlap_date, overlap_days, "
        "claim_ids_a, claim_ids_b, cross_prescriber"
    )

    def interaction(patient, a, b):
        return query(
            warehouse,
            f"SELECT {columns} FROM interactions WHERE patient_id = $p AND ingredient_a = $a AND ingredient_b = $b",
            {"p": patient, "a": a, "b": b},
        )

    # Person 10872: doxepin 25 mg 2010-01-12 + 20 days (to 01-31) during fluoxetine 10 mg 2010-01-10 + 50
    # days (to 02-28): 20 days; no provider on either row.
    assert interaction("10872", "doxepin", "fluoxetine") == [
        ("doxepin", "fluoxetine", "R63", "moderate", date(2010, 1, 12), date(2010, 1, 31), 20, ["588777"],
         ["588886"], None)
    ]  # fmt: skip
    # Person 111455: a fentanyl injection (J3010, one day, provider 93550) on 2008-07-03 during mirtazapine
    # 15 mg 2008-06-27 + 30 days; one side's prescriber is unknown, so cross-prescriber is unknown.
    assert interaction("111455", "fentanyl", "mirtazapine") == [
        ("fentanyl", "mirtazapine", "R47", "moderate", date(2008, 7, 3), date(2008, 7, 3), 1, ["6023428"],
         ["6023396"], None)
    ]  # fmt: skip
    # Person 89285: fentanyl (J3010) and ondansetron (J2405) on 2008-10-25, both by provider 4422.
    assert interaction("89285", "fentanyl", "ondansetron") == [
        ("fentanyl", "ondansetron", "R66", "minor", date(2008, 10, 25), date(2008, 10, 25), 1, ["4811666"],
         ["4811664"], False)
    ]  # fmt: skip


# ---------------------------------------------------------------------------- CMS RIF PDE


def test_rif_pde_night_on_defaults(rif):
    result, warehouse = rif
    assert query(warehouse, "SELECT rows_read, rows_accepted, rows_quarantined, status FROM runs") == [
        (18, 18, 0, "success")
    ]
    # 01-Mar-2015 style dates, PRSCRBR_ID with qualifier 01 (NPI) taken as it is, the pharmacy as written.
    assert query(
        warehouse,
        "SELECT patient_id, fill_date, days_supply, ndc, prescriber_id, pharmacy_id, claim_status "
        "FROM claims WHERE claim_id = '-100000806'",
    ) == [("-1000014", date(2015, 3, 1), 90, "50090443201", "9999928309", "PCP257488", "paid")]
    assert query(
        warehouse, "SELECT min(fill_date), max(fill_date), count(DISTINCT patient_id) FROM claims"
    ) == [(date(2015, 3, 1), date(2021, 4, 4), 2)]
    # The beneficiary file (UPDATE rows of 2021, a byte-order mark): birth year, sex, Part D months
    # January-May 2021 (contracts Z0001, Z0008 ...; June-December empty).
    assert query(
        warehouse, "SELECT patient_id, birth_year, sex, coverage_start, coverage_end FROM patients"
    ) == [
        ("-1000006", 1942, "F", date(2021, 1, 1), date(2021, 5, 31)),
        ("-1000014", 1945, "M", date(2021, 1, 1), date(2021, 5, 31)),
        ("-1000018", 1945, "M", date(2021, 1, 1), date(2021, 5, 31)),
    ]
    # No drug names in a PDE and no NDC in a fresh warehouse's ref_ndc: nothing maps (none of these
    # NDCs is serotonergic in NLM's crosswalk either: warfarin, digoxin, leucovorin, oxaliplatin, ...).
    assert query(warehouse, "SELECT count(*) FROM fill_ingredients") == [(0,)]
    assert query(warehouse, "SELECT count(*) FROM interactions") == [(0,)]


def test_rif_static_sample_upper_case_month_and_zero_product(warehouse, tmp_path):
    """sample-a-pde.txt: 12-MAY-2015, an adjustment (A) with no earlier version in the batch, and
    PROD_SRVC_ID 000000000, which names no product: quarantined missing_drug."""
    from serosurv.core.config import SourceConfig
    from transforms import ingest, validate
    from transforms.adapters import adapt

    adapted = adapt(
        "pde", [PDE / "pde.csv", PDE / "sample-a-pde.txt"], None, tmp_path / "a", SourceConfig().unknown_ids
    )
    ingest.stage_claims(warehouse, adapted.claims, tmp_path / "staged", adapted=True)
    counts = validate.check_claims(
        warehouse, "r1", date(2021, 4, 4), "2000-01-01", SourceConfig().unknown_ids
    )
    assert (counts.rows_read, counts.rows_accepted, counts.rows_quarantined) == (19, 18, 1)
    ((row, code, sample),) = warehouse.execute(
        "SELECT source_row, reason_code, raw->>'SRVC_DT' FROM quarantine"
    ).fetchall()
    assert (row, code, sample) == (1, "missing_drug", "12-MAY-2015")
    raw = duckdb.execute(
        "SELECT fill_date, claim_status, original_claim_id FROM read_parquet($p)",
        {"p": str(adapted.claims[1])},
    ).fetchall()
    assert raw == [("2015-05-12", "adjusted", None)]
