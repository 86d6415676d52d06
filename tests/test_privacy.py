"""Privacy (PRODUCT §4, docs/privacy.md): no patient identifier in logs, errors, dashboards or research
outputs; optional keyed pseudonymisation of every id at ingest, the key written nowhere; outputs
readable by their owner only.

The end-to-end tests generate a population and run everything the CLI offers on it (two nights, bad
inputs, the worklist commands, the dashboard, prevalence) with DEBUG logging of serosurv, Prefect and
every library captured to a file. Then every output file is scanned (Parquet and DuckDB by their values
and as bytes, everything else as bytes), with every log line, every command's stdout and stderr, and the
logs and flow-run parameters Prefect stored, for every generated id. A positive control shows the scanner
finds an id in each kind of file, and the scans assert how much they read, so none can pass vacuously.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from serosurv import cli
from serosurv.core.config import Config, PrivacyConfig, load_config
from serosurv.core.errors import SerosurvError
from serosurv.core.permissions import owner_only
from transforms import ingest, pseudonymise

KEY = "Zq7-privacy-test-key-8Hc4wPb9Lm2Ts5Vd"  # distinctive, so a find is the key and nothing else
KEY_ENV = "SEROSURV_PSEUDONYM_KEY"
NIGHT_1, NIGHT_2, BAD_NIGHT = date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2)
ID_COLUMNS = ("patient_id", "prescriber_id", "pharmacy_id")
# Outputs that are the pharmacist's own: the audit report, the worklist, the actions export, the
# warehouse and the worklist commands name patients by design (PRODUCT §1, §2.6).
PHARMACIST_FILES = re.compile(
    r"(report\.html|alerts\.csv|alerts\.parquet|actions\.csv|serosurv\.duckdb(\.wal)?)$"
)
PHARMACIST_COMMANDS = ("alerts list", "alerts show", "alerts act")
# Warehouse tables that hold errors and summaries: no patient id there even without pseudonymisation.
SUMMARY_TABLES = ("runs", "dq_results", "attrition", "unmapped_drugs", "rules_catalog")


# ---------------------------------------------------------------------------- the scanner


class Scanner:
    """Finds generated ids (in any letter case: a lower-cased header is a leak too) and literal secrets in
    text. Every id's shape (its digits as \\d) is searched with overlapping matches, then kept when it is
    one of the ids: exact, and fast on large files."""

    def __init__(self, ids: set[str], secrets: tuple[str, ...] = ()) -> None:
        shapes = sorted({re.sub(r"\d", r"\\d", re.escape(i)) for i in ids})
        assert ids and len(shapes) <= 10, shapes  # a handful of id formats, each with digits
        self.pattern = re.compile("(?=(" + "|".join(shapes) + "))", re.IGNORECASE)
        self.ids = {i.casefold(): i for i in ids}
        self.secrets = secrets
        self.files = 0
        self.texts = 0
        self.bytes = 0

    def find(self, text: str) -> set[str]:
        found = {
            self.ids[m.group(1).casefold()]
            for m in self.pattern.finditer(text)
            if m.group(1).casefold() in self.ids
        }
        return found | {s for s in self.secrets if s in text}


def file_texts(path: Path, tables: tuple[str, ...] | None = None) -> Iterator[tuple[str, str]]:
    """(where, text) for a file: its bytes decoded (errors ignored), and for Parquet and DuckDB files
    their values as well (compressed storage hides strings from a byte scan). `tables` limits a
    warehouse's values to those tables."""
    raw = path.read_bytes()
    if tables is None:
        yield str(path), raw.decode("utf-8", errors="ignore")
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        yield f"{path} (values)", "\n".join(map(str, frame.rows()))
    elif path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
            for name in names if tables is None else [n for n in names if n in tables]:
                values = con.execute(f'SELECT to_json(t)::VARCHAR FROM "{name}" AS t').fetchall()
                yield f"{path} table {name}", "\n".join(v for (v,) in values)
        finally:
            con.close()


def scan_files(scanner: Scanner, paths: list[Path], tables: tuple[str, ...] | None = None) -> dict[str, set]:
    found: dict[str, set] = {}
    for path in paths:
        scanner.files += 1
        for where, text in file_texts(path, tables):
            scanner.bytes += len(text)
            if hits := scanner.find(text):
                found[where] = hits
    return found


def scan_texts(scanner: Scanner, texts: dict[str, str]) -> dict[str, set]:
    found = {}
    for where, text in texts.items():
        scanner.texts += 1
        scanner.bytes += len(text)
        if hits := scanner.find(text):
            found[where] = hits
    return found


def prefect_records(since: datetime) -> dict[str, str]:
    """What the Prefect API stored since `since`: every log message and every flow run's parameters."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        LogFilter,
        LogFilterTimestamp,
    )
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    logs, runs = [], []
    with get_client(sync_client=True) as client:
        while batch := client.read_logs(
            log_filter=LogFilter(timestamp=LogFilterTimestamp(after_=since)), offset=len(logs), limit=200
        ):
            logs.extend(batch)
        while batch := client.read_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)),
            offset=len(runs),
            limit=200,
        ):
            runs.extend(batch)
    assert runs, "the Prefect API recorded no flow run of this test"
    return {
        f"Prefect API logs ({len(logs)})": "\n".join(f"{r.name} {r.message}" for r in logs),
        f"Prefect flow-run parameters ({len(runs)})": "\n".join(
            json.dumps(r.parameters, default=str) for r in runs
        ),
    }


# ---------------------------------------------------------------------------- running everything


@dataclass
class Session:
    root: Path
    data: Path
    out: Path
    log: Path
    ids: dict[str, set[str]]
    commands: list[tuple[str, int, str, str]] = field(default_factory=list)  # (command, exit, stdout, stderr)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def serosurv(self, *argv: str | Path) -> tuple[int, str]:
        """One command, in this process (the Prefect test API), its stdout and stderr kept for the scan."""
        out, err = io.StringIO(), io.StringIO()
        # Every command finds the session's warehouse the way a site sets it: the environment variable.
        with (
            pytest.MonkeyPatch.context() as patch,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            patch.setenv("SEROSURV_WAREHOUSE", str(self.out / "serosurv.duckdb"))
            code = cli.main(["-v", *map(str, argv)])
        label = " ".join(str(a) for a in argv[:2])
        self.commands.append((label, code, out.getvalue(), err.getvalue()))
        return code, out.getvalue() + err.getvalue()

    def output_files(self) -> list[Path]:
        return sorted(p for p in self.out.rglob("*") if p.is_file())


@contextlib.contextmanager
def debug_logging(path: Path, patch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every log record of every logger, at DEBUG, into `path`; the CLI's own progress stays on stderr."""
    import flows.nightly  # noqa: F401  (importing Prefect's main module (re)configures its logging: first)

    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    serosurv_logger = logging.getLogger("serosurv")
    loggers = {"", "prefect", "serosurv"} | {
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and not logger.propagate
    }
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers)) for name in loggers
    }
    saved_propagate = serosurv_logger.propagate
    for name in loggers:
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).addHandler(handler)
    original = cli._show_progress

    def show_progress_at_debug() -> None:
        # The CLI adds its stderr handler when the logger has none and sets INFO: keep both, then DEBUG.
        serosurv_logger.handlers = []
        original()
        serosurv_logger.addHandler(handler)
        serosurv_logger.setLevel(logging.DEBUG)

    patch.setattr(cli, "_show_progress", show_progress_at_debug)
    patch.setenv("PREFECT_LOGGING_LEVEL", "DEBUG")
    try:
        yield
    finally:
        for name, (level, handlers) in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).handlers = handlers
        serosurv_logger.propagate = saved_propagate
        handler.close()


def _night_2_claims(data: Path, target: Path) -> Path:
    """A second night's file: new claims dated the night for planted patients (some ids padded with
    spaces, which validation trims), as CSV."""
    planted = pl.read_parquet(data / "truth.parquet").get_column("patient_id").unique().sort().to_list()[:12]
    claims = (
        pl.read_parquet(data / "claims.parquet")
        .filter(pl.col("patient_id").is_in(planted) & (pl.col("claim_status") == "paid"))
        .sort("fill_date", descending=True)
        .unique("patient_id", keep="first", maintain_order=True)
        .with_columns(
            (pl.lit("N2-") + pl.col("claim_id")).alias("claim_id"),
            pl.lit(NIGHT_2).alias("fill_date"),
            pl.lit(None, pl.String).alias("original_claim_id"),
        )
    )
    padded = pl.int_range(pl.len()) % 3 == 0
    claims = claims.with_columns(
        pl.when(padded).then(" " + pl.col("patient_id") + " ").otherwise(pl.col("patient_id"))
    )
    claims.write_csv(target)
    return target


def _bad_runs(session: Session) -> list[list[str | Path]]:
    """Runs on malformed input whose rows carry generated ids (patients, prescribers, pharmacies), for
    their error messages to be scanned: the arguments of each `serosurv run` after --out/--config."""
    folder, ids = session.root / "bad", {c: sorted(v)[:40] for c, v in session.ids.items()}
    folder.mkdir()
    rows = [
        f"C-bad-{i},{patient},2025-12-{1 + i % 28:02d},30,00093-7146-56,sertraline,{prescriber},{pharmacy}"
        for i, (patient, prescriber, pharmacy) in enumerate(zip(*ids.values(), strict=False))
    ]
    header = "claim_id,patient_id,fill_date,days_supply,ndc,drug_name,prescriber_id,pharmacy_id"
    texts = {
        "headerless.csv": rows,  # the first data row is read as the header
        "unclosed_quote.csv": [header, rows[0] + ',"unclosed', *rows[1:]],
        "gate_fails.csv": [
            header,
            *(r.replace("2025-12-", "2025-13-") if i % 4 else r for i, r in enumerate(rows)),
        ],
        "missing_column.csv": [header.replace("fill_date", "filled"), *rows],
        "headerless-patients.csv": [f"{patient},1970,F" for patient in ids["patient_id"]],
    }
    for name, lines in texts.items():
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "truncated.parquet").write_bytes((session.data / "claims.parquet").read_bytes()[:3000])
    as_of = ["--as-of", BAD_NIGHT]
    return [
        *(
            ["--claims", folder / name, *as_of]
            for name in texts
            if name.endswith(".csv") and "patients" not in name
        ),
        ["--claims", folder / "truncated.parquet", *as_of],
        ["--claims", session.data / "missing.parquet", *as_of],
        [
            "--claims",
            session.data / "claims.parquet",
            "--patients",
            folder / "headerless-patients.csv",
            *as_of,
        ],
        ["--format", "pde", "--claims", folder / "headerless.csv", *as_of],  # an adapter's own layout
    ]


def run_everything(session: Session, config: Path | None) -> None:
    data, out, root = session.data, session.out, session.root
    configured = ["--config", config] if config else []
    # The commands, in the order a site would run them.
    assert session.serosurv("generate", "--patients", "400", "--seed", "11", "--out", data)[0] == 0
    claims = pl.read_parquet(data / "claims.parquet")
    session.ids = {c: set(claims.get_column(c).drop_nulls().to_list()) for c in ID_COLUMNS}
    session.ids["patient_id"] |= set(
        pl.read_parquet(data / "patients.parquet").get_column("patient_id").to_list()
    )
    night_2 = _night_2_claims(data, root / "night-2.csv")
    run = ["run", "--out", out, *configured]
    code, text = session.serosurv(
        *run, "--claims", data / "claims.parquet", "--patients", data / "patients.parquet", "--as-of", NIGHT_1
    )
    assert code == 0, text
    code, text = session.serosurv(*run, "--claims", night_2, "--as-of", NIGHT_2)
    assert code == 0, text
    for arguments in _bad_runs(session):
        code, text = session.serosurv(*run, *arguments)
        assert code == 2 and "internal error" not in text, text

    warehouse = ["--warehouse", out / "serosurv.duckdb"]
    for fmt in ("table", "csv", "json"):
        assert session.serosurv("alerts", "list", "--all", "--format", fmt, *warehouse)[0] == 0
    con = duckdb.connect(str(out / "serosurv.duckdb"), read_only=True)
    (alert_id,) = con.execute("SELECT alert_id FROM alerts ORDER BY priority DESC LIMIT 1").fetchall()[0]
    con.close()
    assert session.serosurv("alerts", "show", alert_id, *warehouse)[0] == 0
    code, text = session.serosurv(
        "alerts",
        "act",
        alert_id,
        "--action",
        "M0",
        "--result",
        "1G",
        "--operator",
        "A. Patel",
        "--note",
        "called the prescriber",
        *warehouse,
    )
    assert code == 0, text
    assert session.serosurv("alerts", "export-actions", "--out", out / "actions.csv", *warehouse)[0] == 0
    code, text = session.serosurv(
        "report",
        "dashboard",
        "--from",
        "2025-01-01",
        "--to",
        NIGHT_2,
        "--out",
        out / "dashboard.html",
        *warehouse,
    )
    assert code == 0, text
    for name, options in (
        ("prevalence.csv", ["--interval", "quarter", "--by", "age_band,sex"]),
        ("members.parquet", ["--denominator", "members", "--by", "sex"]),
        ("ssri-users.csv", ["--denominator", "users_of:SSRI", "--measure", "point"]),
    ):
        code, text = session.serosurv("prevalence", "--out", out / "research" / name, *options, *warehouse)
        assert code == 0, text


def new_session(root: Path) -> Session:
    return Session(root=root, data=root / "data", out=root / "out", log=root / "debug.log", ids={})


# ---------------------------------------------------------------------------- the two modes


@pytest.fixture(scope="module")
def default_mode(prefect_harness, tmp_path_factory):
    session = new_session(tmp_path_factory.mktemp("privacy-default"))
    with pytest.MonkeyPatch.context() as patch, debug_logging(session.log, patch):
        patch.delenv(KEY_ENV, raising=False)
        run_everything(session, None)
    return session


@pytest.fixture(scope="module")
def pseudonymised(prefect_harness, tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy-pseudonymised")
    config = root / "pseudonymise.toml"
    config.write_text(f'[privacy]\npseudonymise = true\nkey_env = "{KEY_ENV}"\n', encoding="utf-8")
    session = new_session(root)
    with pytest.MonkeyPatch.context() as patch, debug_logging(session.log, patch):
        patch.setenv(KEY_ENV, KEY)
        run_everything(session, config)
        claims = ["--claims", session.data / "claims.parquet", "--as-of", BAD_NIGHT]
        # Pseudonymisation turned off on this warehouse: refused (real ids and pseudonyms would mix).
        code, text = session.serosurv("run", "--out", session.out, *claims)
        assert code == 2 and "split every patient in two" in text, text
        # The key missing or too short: one sentence naming the variable, never a value.
        patch.delenv(KEY_ENV)
        code, text = session.serosurv("run", "--out", session.out, "--config", config, *claims)
        assert code == 2 and KEY_ENV in text and len(text.strip().splitlines()) == 1, text
        patch.setenv(KEY_ENV, "tiny-k3y")
        code, text = session.serosurv("run", "--out", session.out, "--config", config, *claims)
        assert code == 2 and "shorter than" in text and "tiny-k3y" not in text, text
    return session


def _report(mode: str, scanner: Scanner, searched: int, found: dict) -> str:
    summary = (
        f"[{mode}] searched {searched:,} ids in {scanner.files} files and {scanner.texts} command outputs and "
        f"Prefect records, {scanner.bytes:,} characters; found {sum(len(v) for v in found.values())} in "
        f"{len(found)} place(s)"
    )
    print(summary)
    return summary + "".join(f"\n  {where}: {sorted(hits)[:5]}" for where, hits in found.items())


def test_scanner_finds_an_id_or_the_key_in_every_kind_of_file(tmp_path):
    patient, prescriber = "P0000123", "PR000045"
    scanner = Scanner({patient, prescriber, "P0000124"}, (KEY,))
    (tmp_path / "log.txt").write_text(f"noise {patient}noise and P0000125 (not an id of the set)\n")
    (tmp_path / "error.txt").write_text(f"found: c-bad-1, {prescriber.lower()}, 2025-12-01\n")
    pl.DataFrame({"ids": [[prescriber] * 5000], "n": [1]}).write_parquet(
        tmp_path / "x.parquet", compression="zstd"
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t AS SELECT 'x' || i AS a, $p AS p FROM range(200000) AS r(i)", {"p": patient})
    con.close()
    (tmp_path / "k.bin").write_bytes(b"\x00\xff" + KEY.encode() + b"\x00")
    found = scan_files(scanner, sorted(tmp_path.iterdir()))
    assert found[str(tmp_path / "log.txt")] == {patient}
    assert found[f"{tmp_path / 'x.parquet'} (values)"] == {prescriber}
    assert found[f"{tmp_path / 'w.duckdb'} table t"] == {patient}
    assert found[str(tmp_path / "k.bin")] == {KEY}
    assert found[str(tmp_path / "error.txt")] == {prescriber}  # lower-cased, still found
    assert scanner.files == 5 and len(found) == 5 + (str(tmp_path / "x.parquet") in found) + (
        str(tmp_path / "w.duckdb") in found
    )


def test_default_mode_keeps_patient_ids_out_of_logs_errors_dashboards_and_research_outputs(default_mode):
    s = default_mode
    patients = s.ids["patient_id"]
    scanner = Scanner(patients)
    files = s.output_files()
    public = [p for p in files if not PHARMACIST_FILES.search(p.name)]
    assert {p.name for p in public} >= {
        "dashboard.html",
        "prevalence.csv",
        "prevalence.html",
        "members.parquet",
        "members.html",
        "ssri-users.csv",
    }
    found = scan_files(scanner, public)
    found |= scan_files(scanner, [s.out / "serosurv.duckdb"], SUMMARY_TABLES)  # errors, counts, parameters
    found |= scan_files(scanner, [s.log])
    texts = {f"{cmd} #{i} stderr": err for i, (cmd, _, _, err) in enumerate(s.commands)}
    texts |= {
        f"{cmd} #{i} stdout": out
        for i, (cmd, _, out, _) in enumerate(s.commands)
        if cmd not in PHARMACIST_COMMANDS
    }
    found |= scan_texts(scanner, texts | prefect_records(s.started))
    report = _report("default", scanner, len(patients), found)
    assert scanner.files >= 9 and scanner.bytes > 1_000_000 and s.log.stat().st_size > 100_000, report
    log = s.log.read_text(encoding="utf-8")
    assert re.search(r" prefect\.flow_runs (DEBUG|INFO) ", log) and re.search(r" serosurv INFO ", log)
    assert re.search(r" prefect\.flow_runs ERROR .*GateFailed|GateFailed.*\n", log)  # failures were logged
    assert not found, report
    # ... while the pharmacist's report and worklist do name them, and failures were recorded for the scan
    pharmacist = scan_files(Scanner(patients), [p for p in files if PHARMACIST_FILES.search(p.name)])
    assert any("report.html" in where for where in pharmacist) and any("alerts.csv" in w for w in pharmacist)
    con = duckdb.connect(str(s.out / "serosurv.duckdb"), read_only=True)
    failed = con.execute("SELECT count(*) FROM runs WHERE status = 'failed'").fetchall()[0][0]
    con.close()
    assert failed >= 2  # the gate failure and the unreadable files left their messages in `runs`


def test_pseudonymised_mode_writes_no_original_id_anywhere_and_never_the_key(pseudonymised):
    s = pseudonymised
    originals = set().union(*s.ids.values())
    scanner = Scanner(originals, (KEY,))
    files = s.output_files()
    found = scan_files(scanner, files)  # every file, the warehouse (bytes and every table) included
    found |= scan_files(scanner, [s.log])
    texts = {
        f"{cmd} #{i} {kind}": text
        for i, (cmd, _, out, err) in enumerate(s.commands)
        for kind, text in (("stdout", out), ("stderr", err))
    }
    found |= scan_texts(scanner, texts | prefect_records(s.started))
    report = _report("pseudonymised", scanner, len(originals), found)
    assert scanner.files >= 12 and scanner.bytes > 2_000_000, report
    assert any(p.suffix == ".duckdb" for p in files) and any(p.name == "report.html" for p in files)
    assert not found, report


def test_pseudonyms_are_hmac_sha256_of_the_ids_and_stable_across_nights(pseudonymised):
    s = pseudonymised
    con = duckdb.connect(str(s.out / "serosurv.duckdb"), read_only=True)
    try:
        stored = {
            c: dict(
                con.execute(f"SELECT DISTINCT source_row || ':' || source_file, {c} FROM claims").fetchall()
            )
            for c in ID_COLUMNS
        }
        first_night = con.execute(
            "SELECT DISTINCT patient_id FROM claims JOIN runs USING (run_id) WHERE runs.as_of = $d",
            {"d": NIGHT_1},
        ).fetchall()
        second = con.execute(
            "SELECT DISTINCT patient_id FROM claims JOIN runs USING (run_id) WHERE runs.as_of = $d",
            {"d": NIGHT_2},
        ).fetchall()
        patients = {p for (p,) in con.execute("SELECT patient_id FROM patients").fetchall()}
        kept = con.execute(
            "SELECT count(DISTINCT alert_id) FROM alert_history GROUP BY alert_id HAVING count(DISTINCT as_of) = 2"
        ).fetchall()
        parameters = con.execute("SELECT parameters FROM runs WHERE status = 'success'").fetchall()
    finally:
        con.close()
    source = pl.read_parquet(s.data / "claims.parquet").with_row_index("row", offset=1)
    expected = {}
    for column, prefix in (("patient_id", "pt_"), ("prescriber_id", "pr_"), ("pharmacy_id", "ph_")):
        for row, value in source.select("row", column).drop_nulls().iter_rows():
            digest = hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()
            expected[(column, f"{row}:{s.data / 'claims.parquet'}")] = prefix + digest[:20]
    checked = 0
    for column in ID_COLUMNS:
        for where, pseudonym in stored[column].items():
            if (column, where) in expected:
                assert pseudonym == expected[(column, where)]
                checked += 1
    assert checked > 10_000
    night_2 = {p for (p,) in second}
    assert night_2 and night_2 <= {p for (p,) in first_night}  # padded ids too: same pseudonym as night 1
    assert patients and all(re.fullmatch(r"pt_[0-9a-f]{20}", p) for p in patients)
    assert kept  # alerts carried across the two nights keep their id
    for (text,) in parameters:
        assert json.loads(text)["privacy"] == {"pseudonymise": True, "key_env": KEY_ENV}


@pytest.mark.parametrize("mode", ["default_mode", "pseudonymised"])
def test_every_file_and_folder_serosurv_creates_is_readable_by_its_owner_only(mode, request):
    s = request.getfixturevalue(mode)
    created = [s.data, s.out, *s.data.rglob("*"), *s.out.rglob("*")]
    assert len(created) >= 15 and any(p.suffix == ".duckdb" for p in created)
    loose = {
        str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in created if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert not loose
    assert all(p.stat().st_mode & 0o700 == (0o700 if p.is_dir() else 0o600) for p in created)


# ---------------------------------------------------------------------------- the parts, by hand


def test_a_pseudonym_is_the_prefixed_hmac_of_the_trimmed_id_and_blank_stays_blank():
    key = b"k" * 32
    patient = pseudonymise.pseudonymiser(key, "patient_id")
    assert (
        patient(" P0000001 ")
        == patient("P0000001")
        == "pt_" + hmac.new(key, b"P0000001", "sha256").hexdigest()[:20]
    )
    assert pseudonymise.pseudonymiser(key, "prescriber_id")("P0000001").startswith("pr_")
    assert pseudonymise.pseudonymiser(b"j" * 32, "patient_id")("P0000001") != patient("P0000001")
    assert patient("  ") == "  " and patient("") == ""


def test_staged_claims_and_patient_table_are_pseudonymised_before_validation(
    warehouse, tmp_path, monkeypatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    claims = tmp_path / "c.csv"
    claims.write_text(
        "claim_id,patient_id,fill_date,days_supply,drug_name,prescriber_id,pharmacy_id\n"
        "C1, P1 ,2025-01-01,30,sertraline,NPI-9,PH-3\nC2,,2025-01-01,30,sertraline,,\n",
        encoding="utf-8",
    )
    patients = tmp_path / "p.csv"
    patients.write_text("PATIENT_ID,birth_year,sex\nP1,1970,F\n", encoding="utf-8")
    ingest.stage_claims(warehouse, [claims], tmp_path / "staged")
    settings = PrivacyConfig(pseudonymise=True)
    loaded = pseudonymise.apply(warehouse, settings, patients, tmp_path)
    name = pseudonymise.pseudonymiser(KEY.encode(), "patient_id")
    prescriber = pseudonymise.pseudonymiser(KEY.encode(), "prescriber_id")
    pharmacy = pseudonymise.pseudonymiser(KEY.encode(), "pharmacy_id")
    staged = warehouse.execute(
        "SELECT patient_id, prescriber_id, pharmacy_id, raw FROM stg_raw ORDER BY claim_id"
    ).fetchall()
    assert staged == [(name("P1"), prescriber("NPI-9"), pharmacy("PH-3"), None), (None, None, None, None)]
    assert ingest.load_patients(warehouse, loaded, "r1") == 1
    assert warehouse.execute("SELECT patient_id, birth_year FROM patients").fetchall() == [(name("P1"), 1970)]
    assert (
        KEY not in loaded.read_bytes().decode("utf-8", "ignore")
        and "P1" not in pl.read_parquet(loaded).rows()[0]
    )
    left = "SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE 'serosurv_pseudonym%'"
    assert warehouse.execute(left).fetchall() == [(0,)]  # the functions holding the key are gone
    off = pseudonymise.apply(warehouse, PrivacyConfig(), patients, tmp_path)
    assert off == patients


def test_the_key_is_read_from_its_variable_and_a_missing_key_is_one_sentence(monkeypatch):
    settings = PrivacyConfig(pseudonymise=True, key_env="MY_KEY")
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(SerosurvError) as missing:
        pseudonymise.check_key(settings)
    assert "MY_KEY" in str(missing.value) and missing.value.exit_code == 2
    assert not re.search(r"[.!?] [A-Z]|\n", str(missing.value)) and str(missing.value).endswith(".")
    monkeypatch.setenv("MY_KEY", "tiny-key")
    with pytest.raises(SerosurvError, match="shorter than 16") as short:
        pseudonymise.check_key(settings)
    assert "tiny-key" not in str(short.value)
    monkeypatch.setenv("MY_KEY", KEY)
    assert pseudonymise.key_from_environment(settings) == KEY.encode()
    pseudonymise.check_key(PrivacyConfig())  # off: no key needed


def test_the_configuration_names_the_variable_never_the_key(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[privacy]\npseudonymise = true\nkey_env = "a3f9c2d1e8b7a6f5"\n', encoding="utf-8")
    with pytest.raises(SerosurvError, match="must be the name of an environment variable") as refused:
        load_config(config)
    assert "a3f9c2d1e8b7a6f5" not in str(refused.value)
    config.write_text('[privacy]\npseudonymise = true\nkey_env = "SITE_KEY"\n', encoding="utf-8")
    assert load_config(config).privacy == PrivacyConfig(pseudonymise=True, key_env="SITE_KEY")
    # Off, the section leaves the configuration hash as it was before it existed; on, it changes it.
    # ([schedule] and [research] never count: they do not change how a night is computed; [source] counts
    # only when its reading settings differ from their defaults, tests/test_ingest_reading.py; the gate's
    # levels and absent_fields never: they say whether a night goes on and what the source lacks.)
    legacy = {
        k: v for k, v in Config().to_dict().items() if k not in ("privacy", "schedule", "research", "source")
    }
    legacy["warehouse"].pop("path")  # where the warehouse is never counts
    for gate in ("checks", "empty_night", "history_nights", "min_history_nights", "min_claims_for_shares"):
        legacy["validation"].pop(gate)
    legacy["warehouse"].pop("busy_timeout")  # nor how long commands wait for it (added later)
    assert Config().hash == hashlib.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:16]
    assert load_config(config).hash != Config().hash


def test_owner_only_tightens_the_umask_for_the_outermost_block_and_restores_it(tmp_path):
    before = os.umask(0o022)
    try:
        with owner_only():
            with owner_only():
                (tmp_path / "inner").write_text("x")
            (tmp_path / "outer").mkdir()
            csv.writer((tmp_path / "c.csv").open("w")).writerow(["x"])
        (tmp_path / "after").write_text("x")
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert mode == {"inner": 0o600, "outer": 0o700, "c.csv": 0o600, "after": 0o644}
