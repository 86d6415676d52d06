"""Inputs are read as they are meant ([source] in serosurv.toml; README "Input"; docs/real-data.md):
text in the encoding the file is in (refused under "auto" when it is not UTF-8, quarantined row by row
when a declared encoding cannot decode a byte), zoned timestamps dated where the dispensing happened,
columns that hold several values refused, and runaway fields quarantined without being copied. In every
case the rows reconcile: rows read = accepted + quarantined."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from serosurv.core.config import Config, SourceConfig, load_config
from serosurv.core.errors import SerosurvError
from serosurv.core.warehouse import rows
from transforms import ingest, validate

AS_OF = date(2025, 6, 30)
HEADER = "claim_id,patient_id,fill_date,days_supply,drug_name,prescriber_id"


def night(con, paths: list[Path], source: SourceConfig | None = None) -> validate.ValidationCounts:
    """The night's check, then staging and validation, as a night runs them; the counts reconcile."""
    source = source or SourceConfig()
    ingest.check_claims_files(paths, source)
    read = ingest.stage_claims(con, paths, paths[0].parent / "staged", source=source)
    counts = validate.check_claims(con, "r1", AS_OF, "2000-01-01", max_field_length=source.max_field_length)
    assert counts.rows_read == read == counts.rows_accepted + counts.rows_quarantined
    return counts


def refusals(con, path: Path, source: SourceConfig | None = None) -> tuple[str, str]:
    """The night's check and staging refuse the file, in the same words."""
    source = source or SourceConfig()
    with pytest.raises(SerosurvError) as early:
        ingest.check_claims_files([path], source)
    with pytest.raises(SerosurvError) as staged:
        ingest.stage_claims(con, [path], path.parent / "staged", source=source)
    return str(early.value), str(staged.value)


def one_sentence(message: str) -> None:
    assert "\n" not in message and message.endswith("."), message
    assert "PATZ" not in message  # no patient id


# ---------------------------------------------------------------- text encoding

MULLER_LINES = (
    "C1,PATZ1,2025-03-01,30,sertraline,PR-MÜLLER",
    "C2,PATZ1,2025-03-02,30,tramadol,PR-MÄLLER",
)


def latin1_claims(tmp_path: Path, *lines: str, name: str = "claims.csv") -> Path:
    path = tmp_path / name
    path.write_bytes("\n".join((HEADER, *lines, "")).encode("latin-1"))
    return path


def test_a_latin1_file_is_refused_under_auto_naming_the_line_and_the_setting(warehouse, tmp_path):
    path = latin1_claims(tmp_path, *MULLER_LINES)
    early, staged = refusals(warehouse, path)
    assert early == staged
    assert early == (
        f"{path}: the file is not UTF-8 (the first byte that is not is on line 2); declare its encoding "
        'with [source] encoding = "latin-1" (or "cp1252", "utf-16") in the configuration file (--config).'
    )
    one_sentence(early)


def test_a_declared_latin1_file_keeps_two_prescribers_that_differ_in_one_letter(warehouse, tmp_path):
    path = latin1_claims(tmp_path, *MULLER_LINES)
    counts = night(warehouse, [path], SourceConfig(encoding="latin-1"))
    assert (counts.rows_read, counts.rows_accepted, counts.rows_quarantined) == (2, 2, 0)
    assert rows(warehouse, "SELECT claim_id, prescriber_id FROM claims ORDER BY claim_id") == [
        ("C1", "PR-MÜLLER"),
        ("C2", "PR-MÄLLER"),
    ]


@pytest.mark.parametrize("encoding", ["cp1252", "windows-1252"])
def test_a_declared_cp1252_gzip_file_is_transcoded(warehouse, tmp_path, encoding):
    path = tmp_path / "claims.csv.gz"
    path.write_bytes(
        gzip.compress(f"{HEADER}\nC1,PATZ1,2025-03-01,30,Zoloft™ 50 mg,PR-ŒUF\n".encode("cp1252"))
    )
    counts = night(warehouse, [path], SourceConfig(encoding=encoding))
    assert counts.rows_accepted == 1
    assert rows(warehouse, "SELECT drug_name, prescriber_id FROM claims") == [("Zoloft™ 50 mg", "PR-ŒUF")]


def test_a_byte_a_declared_encoding_cannot_decode_quarantines_its_row(warehouse, tmp_path):
    """0x81 is no character in Windows-1252: the row is quarantined, naming the field, never read with
    a replacement character that could merge it with another prescriber."""
    path = tmp_path / "claims.csv"
    path.write_bytes(
        f"{HEADER}\n".encode()
        + b"C1,PATZ1,2025-03-01,30,sertraline,PR-M\xdcLLER\n"
        + b"C2,PATZ1,2025-03-02,30,tramadol,PR-M\x81LLER\n"
    )
    counts = night(warehouse, [path], SourceConfig(encoding="cp1252"))
    assert (counts.rows_read, counts.rows_accepted, counts.reasons) == (2, 1, {"undecodable_text": 1})
    assert rows(warehouse, "SELECT source_file, source_row, reason_code, reason FROM quarantine") == [
        (str(path), 2, "undecodable_text", "prescriber_id has bytes that cannot be read as cp1252 text")
    ]
    assert rows(warehouse, "SELECT prescriber_id FROM claims") == [("PR-MÜLLER",)]


def test_declared_utf8_quarantines_the_rows_that_are_not_instead_of_refusing_the_file(warehouse, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_bytes(
        f"{HEADER}\nC1,PATZ1,2025-03-01,30,sertraline,PR-MÜLLER\n".encode()
        + b"C2,PATZ\xff2,2025-03-02,30,x,\n"
    )
    counts = night(warehouse, [path], SourceConfig(encoding="utf-8"))
    assert (counts.rows_accepted, counts.reasons) == (1, {"undecodable_text": 1})
    assert rows(warehouse, "SELECT source_row, reason FROM quarantine") == [
        (2, "patient_id has bytes that cannot be read as utf-8 text")
    ]


def test_utf16_with_a_byte_order_mark_is_read_under_auto(warehouse, tmp_path):
    """Excel's "Unicode text": UTF-16 with a byte-order mark, tab-separated."""
    path = tmp_path / "claims.tsv"
    text = HEADER.replace(",", "\t") + "\r\n" + "\r\n".join(line.replace(",", "\t") for line in MULLER_LINES)
    path.write_bytes(text.encode("utf-16"))
    counts = night(warehouse, [path])
    assert (counts.rows_read, counts.rows_accepted) == (2, 2)
    assert rows(warehouse, "SELECT source_row, prescriber_id FROM claims ORDER BY 1") == [
        (1, "PR-MÜLLER"),
        (2, "PR-MÄLLER"),
    ]


def test_a_byte_past_the_first_mib_is_found_by_staging_with_its_line(warehouse, tmp_path):
    """The night's check reads each file's first MiB; staging finds a later byte that is not UTF-8 and
    refuses the file in the same words (only then is the file read again, to name the line)."""
    filler = [f"C{i},PATZ1,2025-03-01,30,sertraline,PR-{i}" for i in range(1, 40_001)]
    path = latin1_claims(tmp_path, *filler, MULLER_LINES[0].replace("C1,", "LAST,"))
    assert path.stat().st_size > 1 << 20
    ingest.check_claims_files([path])  # the first MiB is UTF-8
    with pytest.raises(SerosurvError) as refused:
        ingest.stage_claims(warehouse, [path], tmp_path / "staged")
    assert str(refused.value).startswith(
        f"{path}: the file is not UTF-8 (the first byte that is not is on line 40,002)"
    )


def test_a_utf8_file_with_a_byte_order_mark_and_non_ascii_text_is_read_under_auto(warehouse, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_bytes("\n".join((HEADER, *MULLER_LINES, "")).encode("utf-8-sig"))
    counts = night(warehouse, [path])
    assert rows(warehouse, "SELECT prescriber_id FROM claims ORDER BY 1") == [("PR-MÄLLER",), ("PR-MÜLLER",)]
    assert counts.rows_accepted == 2


# ---------------------------------------------------------------- time zones


def test_an_iso_timestamp_with_an_offset_keeps_its_local_date(warehouse, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text(
        f"{HEADER}\n"
        "C1,PATZ1,2025-03-01T23:30:00-05:00,30,sertraline,D1\n"
        "C2,PATZ1,2025-03-01T00:30:00+14:00,30,tramadol,D1\n"
        "C3,PATZ1,2025-03-01T23:30:00Z,30,linezolid,D1\n",
        encoding="utf-8",
    )
    warehouse.execute("SET TimeZone = 'Asia/Tokyo'")  # the machine's zone plays no part
    counts = night(warehouse, [path])
    assert counts.rows_accepted == 3
    assert rows(warehouse, "SELECT claim_id, fill_date FROM claims ORDER BY 1") == [
        ("C1", date(2025, 3, 1)),
        ("C2", date(2025, 3, 1)),
        ("C3", date(2025, 3, 1)),
    ]


def zoned_parquet(path: Path, moments: list[datetime]) -> Path:
    pl.DataFrame(
        {
            "claim_id": [f"C{i}" for i in range(1, len(moments) + 1)],
            "patient_id": ["PATZ1"] * len(moments),
            "fill_date": moments,
            "days_supply": [30] * len(moments),
            "drug_name": ["sertraline"] * len(moments),
        }
    ).write_parquet(path)
    return path


@pytest.mark.parametrize("machine", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_a_zoned_parquet_fill_keeps_its_local_date_whatever_the_machines_zone(warehouse, tmp_path, machine):
    """A fill at 23:30 in New York is stored as 04:30 UTC the next day; the file's Arrow schema records
    the zone, and the fill is dated where it happened."""
    new_york = ZoneInfo("America/New_York")
    path = zoned_parquet(
        tmp_path / "claims.parquet",
        [datetime(2025, 3, 1, 23, 30, tzinfo=new_york), datetime(2025, 3, 2, 0, 30, tzinfo=new_york)],
    )
    warehouse.execute(f"SET TimeZone = '{machine}'")
    night(warehouse, [path])
    assert rows(warehouse, "SELECT claim_id, fill_date FROM claims ORDER BY 1") == [
        ("C1", date(2025, 3, 1)),
        ("C2", date(2025, 3, 2)),
    ]


def test_a_parquet_zone_recorded_as_a_fixed_offset_dates_the_fill_in_that_offset(warehouse, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "claims.parquet"
    moment = datetime(2025, 3, 2, 4, 30, tzinfo=UTC)  # 23:30 on 1 March at -05:00
    table = pa.table(
        {
            "claim_id": ["C1"],
            "patient_id": ["PATZ1"],
            "fill_date": pa.array([moment], pa.timestamp("us", tz="-05:00")),
            "days_supply": [30],
            "drug_name": ["sertraline"],
        }
    )
    pq.write_table(table, path)
    night(warehouse, [path])
    assert rows(warehouse, "SELECT fill_date FROM claims") == [(date(2025, 3, 1),)]


def test_a_utc_parquet_column_does_not_shift_by_a_day_on_a_machine_west_of_greenwich(warehouse, tmp_path):
    path = zoned_parquet(tmp_path / "claims.parquet", [datetime(2025, 3, 1, 0, 30, tzinfo=UTC)])
    warehouse.execute("SET TimeZone = 'America/Los_Angeles'")
    night(warehouse, [path])
    assert rows(warehouse, "SELECT fill_date FROM claims") == [(date(2025, 3, 1),)]


def test_instants_without_a_recorded_zone_are_dated_in_the_source_timezone(warehouse, tmp_path):
    """DuckDB (like Spark) writes TIMESTAMP WITH TIME ZONE as UTC instants without an Arrow schema:
    [source] timezone says where they happened (UTC by default)."""
    path = tmp_path / "claims.parquet"
    warehouse.execute(
        "COPY (SELECT 'C1' AS claim_id, 'PATZ1' AS patient_id, TIMESTAMPTZ '2025-03-02 04:30:00+00' AS fill_date, "
        f"30 AS days_supply, 'sertraline' AS drug_name) TO '{path}'"
    )
    night(warehouse, [path])
    assert rows(warehouse, "SELECT fill_date FROM claims") == [(date(2025, 3, 2),)]
    warehouse.execute("DELETE FROM claims")
    night(warehouse, [path], SourceConfig(timezone="America/New_York"))
    assert rows(warehouse, "SELECT fill_date FROM claims") == [(date(2025, 3, 1),)]


# ---------------------------------------------------------------- columns that hold several values


@pytest.mark.parametrize(
    ("column", "values", "shape", "expected"),
    [
        ("patient_id", [["P-0002"]], "a list", "text"),
        ("fill_date", [{"day": date(2025, 3, 1)}], "a struct", "a date, a timestamp or text"),
        ("days_supply", [[30, 30]], "a list", "a number or text"),
    ],
)
def test_a_parquet_column_that_holds_several_values_is_refused_before_the_night(
    warehouse, tmp_path, column, values, shape, expected
):
    frame = {
        "claim_id": ["C1"],
        "patient_id": ["P-0001"],
        "fill_date": [date(2025, 3, 1)],
        "days_supply": [30],
        "drug_name": ["sertraline"],
    }
    path = tmp_path / "claims.parquet"
    pl.DataFrame(frame | {column: values}).write_parquet(path)
    early, staged = refusals(warehouse, path)
    assert early == staged
    assert (
        early
        == f"{path}: the column '{column}' holds {shape} in each row, not one value; it must be {expected}."
    )
    one_sentence(early)


def test_a_binary_parquet_column_is_read_as_utf8_text(warehouse, tmp_path):
    path = tmp_path / "claims.parquet"
    pl.DataFrame(
        {
            "claim_id": ["C1", "C2"],
            "patient_id": ["PATZ1", "PATZ2"],
            "fill_date": ["2025-03-01", "2025-03-01"],
            "days_supply": ["30", "30"],
            "drug_name": ["x", "y"],
            "prescriber_id": pl.Series(
                ["PR-MÜLLER".encode(), "PR-MÄLLER".encode("latin-1")], dtype=pl.Binary
            ),
        }
    ).write_parquet(path)
    counts = night(warehouse, [path])
    assert rows(warehouse, "SELECT prescriber_id FROM claims") == [("PR-MÜLLER",)]
    assert counts.reasons == {"undecodable_text": 1}
    assert rows(warehouse, "SELECT reason FROM quarantine") == [
        ("prescriber_id has bytes that cannot be read as UTF-8 text (a binary Parquet column)",)
    ]


# ---------------------------------------------------------------- long fields


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_2_mb_field_is_quarantined_without_being_copied(warehouse, tmp_path, kind):
    huge = "x" * (2 * 1024 * 1024)
    frame = pl.DataFrame(
        {
            "claim_id": ["C1", "C2"],
            "patient_id": ["PATZ1", "PATZ1"],
            "fill_date": ["2025-03-01", "2025-03-01"],
            "days_supply": ["30", "30"],
            "drug_name": ["sertraline", huge],
        }
    )
    path = tmp_path / f"claims.{kind}"
    frame.write_csv(path) if kind == "csv" else frame.write_parquet(path)
    counts = night(warehouse, [path])
    assert (counts.rows_read, counts.rows_accepted, counts.reasons) == (2, 1, {"field_too_long": 1})
    ((row, reason, raw),) = rows(warehouse, "SELECT source_row, reason, raw FROM quarantine")
    assert row == 2
    assert reason == "drug_name has 2,097,152 characters, more than [source] max_field_length (1,000)"
    assert len(raw) < 2_000 and "… [cut: 2,097,152 characters]" in raw and '"claim_id":"C2"' in raw


def test_the_field_length_limit_is_a_setting_and_counts_characters_not_bytes(warehouse, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text(f"{HEADER}\nC1,PATZ1,2025-03-01,30,{'é' * 40},D1\nC2,PATZ1,2025-03-01,30,{'é' * 41},D1\n")
    counts = night(warehouse, [path], SourceConfig(max_field_length=40))
    assert (counts.rows_accepted, counts.reasons) == (1, {"field_too_long": 1})
    assert rows(warehouse, "SELECT source_row FROM quarantine") == [(2,)]


def test_an_adapters_long_source_row_is_kept_as_the_start_of_its_text(warehouse, tmp_path):
    path = tmp_path / "adapted.csv"
    pl.DataFrame(
        {
            "claim_id": ["M1"],
            "patient_id": ["PATZ1"],
            "fill_date": ["2025-03-01"],
            "end_date": ["2025-03-02"],
            "drug_name": ["NS"],
            "source_file": ["prescriptions.csv"],
            "source_row": ["7"],
            "raw": ['{"note": "' + "y" * 50_000 + '"}'],
            "reject_code": ["not_a_drug_order"],
            "reject_reason": ["a diluent"],
        }
    ).write_csv(path)
    ingest.stage_claims(warehouse, [path], tmp_path / "staged", adapted=True)
    validate.check_claims(warehouse, "r1", AS_OF, "2000-01-01")
    ((code, raw),) = rows(warehouse, "SELECT reason_code, raw FROM quarantine")
    assert code == "not_a_drug_order" and len(raw) < 17_000 and '"characters":50012' in raw


# ---------------------------------------------------------------- settings


def test_source_settings_are_checked_and_count_in_the_hash_only_when_changed(tmp_path):
    config = tmp_path / "c.toml"
    for text, message in (
        ('[source]\nencoding = "klingon"\n', "'source.encoding' must be \"auto\" or a text encoding"),
        ('[source]\nencoding = "rot13"\n', "'source.encoding' must be"),
        ('[source]\ntimezone = "Mars/Olympus"\n', "'source.timezone' must be an IANA time zone"),
        (
            "[source]\nmax_field_length = 0\n",
            "'source.max_field_length' must be a whole number of at least 1",
        ),
    ):
        config.write_text(text, encoding="utf-8")
        with pytest.raises(SerosurvError, match=message):
            load_config(config)
    config.write_text('[source]\nencoding = "auto"\ntimezone = "UTC"\nmax_field_length = 1000\n')
    assert load_config(config).hash == Config().hash  # the defaults, written out
    config.write_text('[source]\nencoding = "latin-1"\n', encoding="utf-8")
    assert load_config(config).source == SourceConfig(encoding="latin-1")
    assert load_config(config).hash != Config().hash


# ---------------------------------------------------------------- a night


def test_a_night_reads_a_declared_latin1_file_and_keeps_a_runaway_field_out_of_its_report(
    prefect_harness, tmp_path
):
    """Through `serosurv run`'s function and the Prefect flow: under "auto" the Latin-1 file is refused
    before the night starts (no warehouse is created); with its encoding declared, the two prescribers
    stay two, the runaway field is quarantined, and the audit report quotes none of it."""
    import duckdb

    from serosurv import api

    runaway = "y" * 5_000
    path = latin1_claims(tmp_path, *MULLER_LINES, f"C3,PATZ2,2025-03-03,30,{runaway},PR-X")
    warehouse = tmp_path / "out" / "serosurv.duckdb"
    with pytest.raises(SerosurvError, match=r"is not UTF-8 .* \[source\] encoding"):
        api.run([path], out_dir=tmp_path / "out", warehouse=warehouse, as_of=AS_OF)
    assert not warehouse.exists()
    config = tmp_path / "latin1.toml"
    config.write_text(
        '[source]\nencoding = "latin-1"\nmax_field_length = 100\n'
        "[validation.checks]\nquarantine_rate = { warn = 0.5, stop = 0.5 }\nnewest_fill_lag_days = { warn = 0, stop = 0 }\n"
    )
    result = api.run([path], out_dir=tmp_path / "out", warehouse=warehouse, as_of=AS_OF, config_file=config)
    counts = result.counts
    assert (counts["rows_read"], counts["rows_accepted"], counts["rows_quarantined"]) == (3, 2, 1)
    assert counts["quarantined_field_too_long"] == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT prescriber_id FROM claims ORDER BY 1").fetchall() == [
            ("PR-MÄLLER",),
            ("PR-MÜLLER",),
        ]
        ((raw, parameters),) = con.execute(
            "SELECT q.raw, r.parameters FROM quarantine q JOIN runs r USING (run_id)"
        ).fetchall()
    assert len(raw) < 2_000 and '"encoding": "latin-1"' in parameters
    report = Path(result.reports["report"]).read_text(encoding="utf-8")
    assert "drug_name has 5,000 characters, more than [source] max_field_length (100)" in report
    assert runaway[:200] not in report
