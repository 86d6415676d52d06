"""A warehouse written by an older serosurv is read by a newer one: the columns added since (here
quarantine.patient_id and fill_ingredients.patient_id, which `serosurv explain` reads) are added when it is
opened, even to read; no row is lost, and a fill's patient is taken from its claim."""

from __future__ import annotations

import duckdb
import pytest

from serosurv.core.warehouse import connect, open_existing


def test_an_older_warehouse_opened_to_read_gets_the_new_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    con = connect(path)
    con.execute(
        "insert into quarantine (source_file, source_row, reason_code, run_id) values ('a.csv', 2, 'x', 'r1')"
    )
    con.execute("insert into claims (claim_id, patient_id, run_id) values ('C1', 'P1', 'r1')")
    con.execute("insert into fill_ingredients (claim_id, ingredient) values ('C1', 'sertraline')")
    con.execute("alter table quarantine drop column patient_id")  # as an older serosurv wrote it
    con.execute("alter table fill_ingredients drop column patient_id")
    con.execute("drop table night_mapping")
    con.close()
    reader = open_existing(path, read_only=True)
    try:
        assert reader.execute(
            "select source_file, source_row, reason_code, patient_id from quarantine"
        ).fetchall() == [("a.csv", 2, "x", None)]
        assert reader.execute("select count(*) from night_mapping").fetchall() == [(0,)]
        # a fill's patient, from its claim (a claim id named one claim before claims were keyed by patient)
        assert reader.execute("select claim_id, patient_id, ingredient from fill_ingredients").fetchall() == [
            ("C1", "P1", "sertraline")
        ]
        with pytest.raises(duckdb.Error, match="read-only"):
            reader.execute("insert into quarantine (source_file) values ('b.csv')")
    finally:
        reader.close()
