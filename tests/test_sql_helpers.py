"""The statement helpers of transforms/sql.py that change how DuckDB runs a statement."""

from __future__ import annotations

import json

import duckdb
import pytest

from transforms.sql import joins_as_written


def _build_side(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """The table the hash join of `query` builds its hash table on (its second child)."""
    plan = json.loads(con.execute("explain (format json) " + query).fetchall()[0][1])

    def join(node: dict) -> dict | None:
        if node.get("name") == "HASH_JOIN":
            return node
        return next(filter(None, (join(child) for child in node.get("children", []))), None)

    def table(node: dict) -> str:
        found = node.get("extra_info", {}).get("Table")
        return found or next(table(child) for child in node.get("children", []))

    hash_join = next(filter(None, (join(node) for node in plan)))
    return table(hash_join["children"][1]).split(".")[-1]


def test_joins_as_written_build_on_the_side_written_second_and_the_setting_comes_back():
    con = duckdb.connect()
    con.execute("create table small as select range as k from range(10)")
    con.execute("create table big as select range % 10 as k, range as v from range(100000)")
    query = "select * from small join big using (k)"
    assert _build_side(con, query) == "small"  # DuckDB's own choice: the smaller side
    con.execute("set disabled_optimizers = 'compressed_materialization'")
    with joins_as_written(con):
        assert _build_side(con, query) == "big"
    assert con.execute("select current_setting('disabled_optimizers')").fetchall() == [
        ("compressed_materialization",)
    ]
    with pytest.raises(duckdb.Error), joins_as_written(con):
        con.execute("select * from no_such_table")
    assert con.execute("select current_setting('disabled_optimizers')").fetchall() == [
        ("compressed_materialization",)
    ]
