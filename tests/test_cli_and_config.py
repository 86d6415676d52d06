"""The command line's contract (exit codes, one-sentence errors) and the configuration file."""

from __future__ import annotations

import json

import pytest

from serosurv import api
from serosurv.cli import main
from serosurv.core.config import (
    DEFAULT_CONFIG_FILE,
    AlertConfig,
    Config,
    PriorityWeights,
    ResearchConfig,
    load_config,
    recorded_config,
)
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


def test_research_settings_are_read_checked_and_left_out_of_the_hash(tmp_path):
    """[research] changes what the dashboard and prevalence publish, not how a night is computed: a
    changed setting keeps the hash (recorded hashes still match, no full recompute)."""
    custom = tmp_path / "research.toml"
    custom.write_text("[research]\nmin_cell_count = 5\nage_bands = [20, 60]\n")
    research = load_config(custom).research
    assert (research.min_cell_count, research.age_bands) == (5, (20, 60))
    assert research.age_band_labels == ("0-19", "20-59", "60+") and research.suppressed_mark == "<5"
    assert load_config(custom).hash == Config().hash
    assert ResearchConfig().age_band_labels == ("0-17", "18-44", "45-64", "65-74", "75+")
    for text, message in [
        ("min_cell_count = 0", "'research.min_cell_count' must be a whole number of at least 1"),
        ("min_cell_count = -3", "'research.min_cell_count' must not be negative"),
        ("min_cell_count = 5.5", "'research.min_cell_count' must be int"),
        (
            "age_bands = [18, 18, 65]",
            "'research.age_bands' must be strictly increasing, got \\[18, 18, 65\\]",
        ),
        ("age_bands = [65, 45]", "'research.age_bands' must be strictly increasing"),
        ("age_bands = [0, 18]", "'research.age_bands' must hold positive whole numbers of years"),
        ("age_bands = [18, 'x']", "'research.age_bands' must hold positive whole numbers of years"),
        ("age_bands = []", "'research.age_bands' must be a list of the ages"),
        ("age_bands = 18", "'research.age_bands' must be a list, got 18"),
    ]:
        custom.write_text(f"[research]\n{text}\n")
        with pytest.raises(SerosurvError, match=message):
            load_config(custom)


def test_a_runs_recorded_parameters_give_back_its_configuration():
    """Reports describe a night with the settings it recorded: settings added since take their defaults,
    settings no longer known are ignored."""
    custom = Config(alerts=AlertConfig(priority=PriorityWeights(cross_prescriber=30.0)))
    assert recorded_config(json.dumps(custom.to_dict())) == custom
    older = recorded_config('{"alerts": {"lookback_days": 14, "retired": 1}, "gone": {"x": 1}}')
    assert older.alerts.lookback_days == 14 and older.research == ResearchConfig()
    assert recorded_config(None) == recorded_config("not json") == Config()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--claims", "nope.csv"], "Claims file nope.csv does not exist."),
        (["run", "--claims", "x.csv", "--as-of", "31/12/2025"], "is not a date"),
        (["generate", "--out", "x", "--patients", "0"], "is not a whole number above 0"),
        (["generate", "--out", "x", "--workload", "oncology"], "invalid choice: 'oncology'"),
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


def test_generate_passes_the_workload_to_the_generator(tmp_path):
    assert (
        main(["generate", "--patients", "300", "--out", str(tmp_path / "cli"), "--workload", "serotonergic"])
        == 0
    )
    api_written = api.generate(tmp_path / "api", patients=300, workload="serotonergic")
    assert (tmp_path / "cli" / "claims.parquet").read_bytes() == api_written.claims.read_bytes()
    general = api.generate(tmp_path / "general", patients=300)
    assert general.claims.read_bytes() != api_written.claims.read_bytes()
