"""Settings precedence: defaults < file < environment < flags, with errors that name the source."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from policysim.base.settings import SettingsError, load_settings
from policysim.cli import main


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text('[policysim]\npartitions = 4\nbootstrap = "file:9092"\nbatch = 7\n')
    env = {"POLICYSIM_PARTITIONS": "6", "POLICYSIM_BOOTSTRAP": "env:9092"}
    settings = load_settings(config, environ=env, bootstrap="flag:9092")
    assert (settings.batch, settings.partitions, settings.bootstrap) == (7, 6, "flag:9092")


def test_bad_values_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"\$POLICYSIM_PARTITIONS"):
        load_settings(environ={"POLICYSIM_PARTITIONS": "many"})
    config = tmp_path / "bad.toml"
    config.write_text("[policysim]\nno_such_thing = 1\n")
    with pytest.raises(SettingsError, match=r"bad\.toml: unknown setting"):
        load_settings(config, environ={})


def test_config_command_prints_toml_it_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[policysim]\n")
    assert tomllib.loads(out)["policysim"]["topic_dlq"] == "connections-dlq"
