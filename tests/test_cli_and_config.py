"""The command line's contract (exit codes, one-sentence errors) and the configuration file."""

from __future__ import annotations

import pytest

from serosurv.cli import main
from serosurv.core.config import DEFAULT_CONFIG_FILE, Config, load_config
from serosurv.core.errors import SerosurvError


def test_documented_config_file_equals_the_built_in_defaults():
    assert load_config(DEFAULT_CONFIG_FILE) == Config()
    assert load_config(DEFAULT_CONFIG_FILE).hash == Config().hash


def test_config_errors_name_the_file_and_setting(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[episodes]\ngrace_dayz = 3\n")
    with pytest.raises(SerosurvError, match=r"bad\.toml: unknown setting 'episodes\.grace_dayz'"):
        load_config(bad)
    bad.write_text("[episodes]\ngrace_days = 'seven'\n")
    with pytest.raises(SerosurvError, match="'episodes.grace_days' must be int"):
        load_config(bad)
    bad.write_text("[episodes]\ngrace_days = -1\n")
    with pytest.raises(SerosurvError, match="must not be negative"):
        load_config(bad)


def test_a_changed_setting_changes_the_config_hash(tmp_path):
    custom = tmp_path / "c.toml"
    custom.write_text("[episodes]\ngrace_days = 30\n")
    assert load_config(custom).episodes.grace_days == 30
    assert load_config(custom).hash != Config().hash


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--claims", "nope.csv"], "Claims file nope.csv does not exist."),
        (["run", "--claims", "x.csv", "--as-of", "31/12/2025"], "is not a date"),
        (["generate", "--out", "x", "--patients", "0"], "is not a whole number above 0"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_usage_exits_2_with_one_sentence(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_unknown_format_exits_2(tmp_path, capsys):
    claims = tmp_path / "c.csv"
    claims.write_text("claim_id\n")
    assert main(["run", "--claims", str(claims), "--format", "sas"]) == 2
    assert "Unknown input format 'sas'" in capsys.readouterr().err


def test_generate_writes_the_three_files(tmp_path, capsys):
    assert main(["generate", "--patients", "300", "--out", str(tmp_path), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    for name in ("claims.parquet", "patients.parquet", "truth.parquet"):
        assert (tmp_path / name).is_file() and name in out
