"""Bad claims files through the command line, in its own process as a user runs it: exit code 2 and one
sentence on stderr naming the file, no traceback, no Prefect log line, no patient id (the staging
transforms' answers to hostile files are fuzzed in tests/test_fuzz.py)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
PATIENT_PREFIX = "PATZ"  # the patient ids written here: easy to find in an error message


def _runner(env: dict[str, str]):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "serosurv", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=300,
        )

    return run


def _environment(tmp_path_factory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING_")}
    return env | {"DO_NOT_TRACK": "1", "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home"))}


@pytest.fixture(scope="module")
def serosurv(tmp_path_factory):
    """`serosurv ...` in its own process, as a user runs it: Prefect sets up its logging when first
    imported, so only a fresh process shows what reaches stderr. Files refused from their headers are
    refused before Prefect starts, so these runs need no Prefect API."""
    return _runner(_environment(tmp_path_factory))


@pytest.fixture(scope="module")
def serosurv_night(prefect_harness, tmp_path_factory):
    """The same, for runs that reach the night's flow: on the session's Prefect API (no server start)."""
    from prefect.settings import PREFECT_API_URL

    return _runner(_environment(tmp_path_factory) | {"PREFECT_API_URL": PREFECT_API_URL.value()})


def _list_typed_patient_id() -> bytes:
    """A Parquet file whose patient ids are lists (a nested export): refused, not read as '[PATZ2]'."""
    import io

    import polars as pl

    buffer = io.BytesIO()
    claims = {
        "claim_id": ["C1"],
        "patient_id": [["PATZ2"]],
        "fill_date": ["2025-01-01"],
        "days_supply": ["30"],
        "ndc": ["1"],
    }
    pl.DataFrame(claims).write_parquet(buffer)
    return buffer.getvalue()


def one_error_line(stderr: str) -> str:
    """The stderr of a refused run: progress lines and exactly one error line; no traceback, no
    Prefect log lines, no patient id."""
    assert "Traceback" not in stderr and PATIENT_PREFIX not in stderr, stderr
    assert all(line.startswith("serosurv: ") for line in stderr.splitlines() if line.strip()), stderr
    errors = [line for line in stderr.splitlines() if line.startswith("serosurv: error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("claims.xlsx", b"PK\x03\x04", "unknown file type"),
        ("claims.csv", b"", "the file is empty"),
        (
            "claims.csv",
            # Read as semicolon-separated (tests/test_csv_delimiters.py), and then short of a column.
            b"claim_id;patient_id;days_supply;ndc\nC1;PATZ1;30;1\n",
            "required column 'fill_date' is missing",
        ),
        ("claims.csv", b"C1,PATZ1,2025-01-01,30,sertraline\n", "starts with a header row"),
        (
            "claims.csv.gz",
            gzip.compress(b"claim_id,patient_id,fill_date\n" * 200)[:40],
            "cannot be read as CSV",
        ),
        ("claims.parquet", b"PAR1 this is not parquet PAR1", "cannot be read as Parquet"),
        (
            "claims.csv",
            b"claim_id,patient_id,fill_date,days_supply,ndc,prescriber_id\nC1,PATZ1,2025-01-01,30,1,PR-M\xdcLLER\n",
            'not UTF-8 (the first byte that is not is on line 2); declare its encoding with [source] encoding = "latin-1"',
        ),
        ("claims.parquet", _list_typed_patient_id(), "the column 'patient_id' holds a list in each row"),
    ],
    ids=[
        "unknown-type",
        "empty",
        "semicolons",
        "no-header",
        "truncated-gzip",
        "not-parquet",
        "latin-1",
        "list-typed-id",
    ],
)
def test_bad_files_through_the_cli_exit_2_with_one_sentence(serosurv, tmp_path, name, data, expected):
    (tmp_path / name).write_bytes(data)
    run = serosurv(
        "run",
        "--claims",
        str(tmp_path / name),
        "--as-of",
        "2025-06-30",
        "--out",
        str(tmp_path),
        "--warehouse",
        str(tmp_path / "serosurv.duckdb"),
    )
    line = one_error_line(run.stderr)
    assert run.returncode == 2, run.stderr
    assert f"{tmp_path / name}" in line and expected in line, line
    assert not (tmp_path / "serosurv.duckdb").exists()  # refused from its header, before any night began


def test_a_header_only_file_is_an_empty_night_that_goes_on_unless_configured_to_stop(
    serosurv_night, tmp_path
):
    """An extract without claims (a holiday) is a night like any other that says it was empty; with
    [validation] empty_night = "stop" it is bad input (exit 2, one sentence naming the setting) and the
    failed night leaves only its `runs` row (status failed, with the reason)."""
    (tmp_path / "claims.csv").write_text("claim_id,patient_id,fill_date,days_supply,ndc\n")
    (tmp_path / "stop.toml").write_text('[validation]\nempty_night = "stop"\n')
    common = ("--claims", str(tmp_path / "claims.csv"), "--as-of", "2025-06-30", "--out", str(tmp_path))
    run = serosurv_night("run", *common, "--warehouse", str(tmp_path / "empty.duckdb"))
    assert run.returncode == 0, run.stderr
    assert "0 rows read, 0 accepted" in run.stdout
    assert "The night has no new claims (0 rows read); it goes on" in run.stderr
    with duckdb.connect(str(tmp_path / "empty.duckdb"), read_only=True) as con:
        assert con.execute("SELECT status FROM dq_results WHERE check_name = 'empty_night'").fetchall() == [
            ("warning",)
        ]
    run = serosurv_night(
        "run",
        *common,
        "--warehouse",
        str(tmp_path / "serosurv.duckdb"),
        "--config",
        str(tmp_path / "stop.toml"),
    )
    line = one_error_line(run.stderr)
    assert run.returncode == 2, run.stderr
    assert line.startswith(
        "serosurv: error: The data-quality gate stopped the night of 2025-06-30. The night has no new claims "
        "(0 rows read); it stops ([validation] empty_night)."
    ), line
    with duckdb.connect(str(tmp_path / "serosurv.duckdb"), read_only=True) as con:
        assert con.execute("SELECT status, rows_read, message LIKE '%empty_night%' FROM runs").fetchall() == [
            ("failed", 0, True)
        ]
        assert con.execute("SELECT count(*) FROM claims").fetchone() == (0,)


def test_a_prefect_server_that_does_not_start_in_time_is_one_sentence_and_touches_nothing(tmp_path_factory):
    """On a loaded machine Prefect's temporary API server can miss its start-up time (Prefect's own default is
    20 s; a night waits 120). That is one sentence naming the setting, exit 2, and no warehouse, not
    'internal error: RuntimeError'. Here the wait is made 0 s, so the server cannot be ready in time."""
    tmp_path = tmp_path_factory.mktemp("slow-prefect")
    (tmp_path / "claims.csv").write_text(
        "claim_id,patient_id,fill_date,days_supply,drug_name\nC1,PATZ1,2025-06-01,30,sertraline\n"
    )
    env = {k: v for k, v in _environment(tmp_path_factory).items() if k != "PREFECT_API_URL"}
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "0"
    claims, warehouse = str(tmp_path / "claims.csv"), tmp_path / "serosurv.duckdb"
    run = _runner(env)("run", "--claims", claims, "--as-of", "2025-06-30", "--warehouse", str(warehouse))
    assert run.returncode == 2, run.stderr
    assert one_error_line(run.stderr) == (
        "serosurv: error: Prefect's temporary API server did not start within 0 s (a busy machine), so the night "
        "did not start and the warehouse is as it was. Run it again, wait longer with "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or run against a Prefect server (PREFECT_API_URL)."
    )
    assert not warehouse.exists()


# What `serosurv run` loaded by the time it exited: the command's own process, as a user runs it, then the
# top-level packages of Prefect (and of its server), Great Expectations and uvicorn that it imported.
LOADED_PROBE = """
import sys
from serosurv.cli import main
code = main(sys.argv[1:])
print(sorted({name.split(".")[0] for name in sys.modules} & {"prefect", "great_expectations", "uvicorn"}))
sys.exit(code)
"""


def _refused_before_prefect(
    tmp_path_factory, tmp_path: Path, arguments: tuple[str, ...], expected: str
) -> None:
    """`serosurv run ARGUMENTS` ({tmp}: tmp_path) exits 2 with the `expected` sentence, having imported
    nothing of Prefect, Great Expectations or uvicorn, and created no warehouse."""
    run = subprocess.run(
        [sys.executable, "-c", LOADED_PROBE, "run", *(a.replace("{tmp}", str(tmp_path)) for a in arguments)]
        + ["--as-of", "2025-06-30", "--out", str(tmp_path), "--warehouse", str(tmp_path / "serosurv.duckdb")],
        capture_output=True,
        text=True,
        env=_environment(tmp_path_factory),
        cwd=ROOT,
        timeout=300,
    )
    line = one_error_line(run.stderr)
    assert run.returncode == 2, run.stderr
    assert expected.replace("{tmp}", str(tmp_path)) in line, line
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stdout  # nothing of Prefect, GX, uvicorn
    assert not (tmp_path / "serosurv.duckdb").exists()


@pytest.mark.parametrize(
    ("files", "arguments", "expected"),
    [
        ({}, ("--claims", "{tmp}/missing.csv"), "Claims file {tmp}/missing.csv does not exist."),
        ({"claims.csv": ""}, ("--claims", "{tmp}/claims.csv"), "the file is empty (no header row)"),
        (
            {"claims.csv": "claim_id,patient_id,days_supply,ndc\nC1,PATZ1,30,1\n"},
            ("--claims", "{tmp}/claims.csv"),
            "required column 'fill_date' is missing",
        ),
        (
            {"good.csv": "claim_id,patient_id,fill_date,days_supply,ndc\n", "bad.toml": "[engine\n"},
            ("--claims", "{tmp}/good.csv", "--config", "{tmp}/bad.toml"),
            "{tmp}/bad.toml: not valid TOML",
        ),
        (
            {"good.csv": "claim_id,patient_id,fill_date,days_supply,ndc\n"},
            ("--claims", "{tmp}/good.csv", "--config", "{tmp}/missing.toml"),
            "Configuration file {tmp}/missing.toml does not exist.",
        ),
        (
            {
                "good.csv": "claim_id,patient_id,fill_date,days_supply,ndc\n",
                "rules.toml": '[rules]\ndirectory = "{tmp}/no-rules"\n',
            },
            ("--claims", "{tmp}/good.csv", "--config", "{tmp}/rules.toml"),
            "{tmp}/no-rules/agents.csv is missing",
        ),
        (
            {"good.csv": "claim_id,patient_id,fill_date,days_supply,ndc\n"},
            ("--claims", "{tmp}/good.csv", "--patients", "{tmp}/patients.csv"),
            "Patients file {tmp}/patients.csv does not exist.",
        ),
    ],
    ids=[
        "missing-file",
        "empty-file",
        "missing-column",
        "unreadable-config",
        "missing-config",
        "missing-rules",
        "missing-patients",
    ],
)
def test_input_errors_are_refused_before_prefect_is_imported(
    tmp_path_factory, tmp_path, files, arguments, expected
):
    """Errors a night can tell from its inputs alone come in a second, not after Prefect's start-up (a
    temporary API server, 5-20 s): the command that refuses them never imported Prefect, let alone
    started its server, nor Great Expectations."""
    for name, text in files.items():
        (tmp_path / name).write_text(text.replace("{tmp}", str(tmp_path)))
    _refused_before_prefect(tmp_path_factory, tmp_path, arguments, expected)


def _parquet(columns: dict[str, list[str]]) -> bytes:
    import io

    import polars as pl

    buffer = io.BytesIO()
    pl.DataFrame(columns).write_parquet(buffer)
    return buffer.getvalue()


OMOP_EXPOSURE = "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,days_supply\n1,PATZ1,2,2025-01-01,30\n"
CONCEPT = "concept_id,concept_name,vocabulary_id,concept_code\n2,sertraline,RxNorm,36437\n"


@pytest.mark.parametrize(
    ("files", "arguments", "expected"),
    [
        (
            {"prescriptions.csv": "subject_id,start_time,drug\nPATZ1,2150-01-01 08:00:00,Sertraline\n"},
            ("--format", "mimic-iv", "--claims", "{tmp}/prescriptions.csv"),
            "{tmp}/prescriptions.csv: required column 'starttime' of the MIMIC-IV prescriptions layout is missing"
            " (found: subject_id, start_time, drug)",
        ),
        (
            {
                "prescriptions.csv": "subject_id,starttime,drug\nPATZ1,2150-01-01 08:00:00,Sertraline\n",
                "patients.csv": "gender,anchor_age\nF,50\n",
            },
            (
                "--format",
                "mimic-iv",
                "--claims",
                "{tmp}/prescriptions.csv",
                "--patients",
                "{tmp}/patients.csv",
            ),
            "required column 'subject_id' of the MIMIC-IV patients layout is missing",
        ),
        (
            {"omop/drug_exposure.csv": OMOP_EXPOSURE, "omop/concept.csv": "concept_id,concept_name\n2,x\n"},
            ("--format", "omop", "--claims", "{tmp}/omop"),
            "{tmp}/omop/concept.csv: required column 'vocabulary_id' of the OMOP concept layout is missing",
        ),
        (
            {"omop/drug_exposure.csv": OMOP_EXPOSURE},
            ("--format", "omop", "--claims", "{tmp}/omop"),
            "{tmp}/omop: the OMOP concept table (concept.csv or .parquet, or CONCEPT.csv in a vocabulary folder) is"
            " missing",
        ),
        (
            {
                "omop/drug_exposure.parquet": _parquet({"person_id": ["PATZ1"], "drug_concept_id": ["2"]}),
                "omop/concept.csv": CONCEPT,
            },
            ("--format", "omop", "--claims", "{tmp}/omop"),
            "required column 'drug_exposure_id' of the OMOP drug_exposure layout is missing",
        ),
        (
            {
                "omop/drug_exposure.csv": OMOP_EXPOSURE,
                "omop/concept.csv": CONCEPT,
                "omop/person.csv": "year_of_birth\n1970\n",
            },
            ("--format", "omop", "--claims", "{tmp}/omop"),
            "{tmp}/omop/person.csv: required column 'person_id' of the OMOP person layout is missing",
        ),
        (
            {"pde.csv": "BENE_ID|SRVC_DT|PROD_SRVC_ID\nPATZ1|20210101|00093721001\n"},
            ("--format", "pde", "--claims", "{tmp}/pde.csv"),
            "required column 'DAYS_SUPLY_NUM' of the CMS PDE layout is missing",
        ),
        (
            {"dispensing.csv": "PatID,RxDate,Rx\nPATZ1,2025-01-01,00093721001\n"},
            ("--format", "scdm", "--claims", "{tmp}/dispensing.csv"),
            "required column 'RxSup' of the SCDM Dispensing layout is missing",
        ),
        (
            {
                "dispensing.csv": "PatID,RxDate,Rx,RxSup\nPATZ1,2025-01-01,00093721001,30\n",
                "other.csv": "a,b\n1,2\n",
            },
            ("--format", "scdm", "--claims", "{tmp}/dispensing.csv", "{tmp}/other.csv"),
            "{tmp}/other.csv: not an SCDM Dispensing (RxDate), Enrollment (Enr_Start) or Demographic (Birth_Date)",
        ),
        (
            {"bundle.txt": "{}"},
            ("--format", "fhir", "--claims", "{tmp}/bundle.txt"),
            "{tmp}/bundle.txt: not a FHIR file",
        ),
        (
            {
                "feed.csv": "member,disp_date,ndc,days\nPATZ1,2025-01-01,00093721001,30\n",
                "map.toml": '[columns]\npatient_id = "member"\nfill_date = "DispDate"\nndc = "ndc"\n'
                'days_supply = "days"\n',
            },
            ("--format", "mapping:{tmp}/map.toml", "--claims", "{tmp}/feed.csv"),
            "{tmp}/feed.csv: column 'DispDate' (mapped to fill_date by {tmp}/map.toml) is missing",
        ),
    ],
    ids=[
        "mimic",
        "mimic-patients",
        "omop-concept-columns",
        "omop-no-concept",
        "omop-parquet",
        "omop-person",
        "pde",
        "scdm",
        "scdm-unknown-table",
        "fhir",
        "mapping",
    ],
)
def test_a_layouts_bad_header_is_refused_before_prefect_is_imported(
    tmp_path_factory, tmp_path, files, arguments, expected
):
    """The other layouts' inputs (--format) are checked from their headers before Prefect is imported,
    with the sentence the adapter itself would say inside the night 15-20 s later."""
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content)
    _refused_before_prefect(tmp_path_factory, tmp_path, arguments, expected)
