"""The front door itself: a light parser, global flags anywhere, defaults in help, no tracebacks."""

from __future__ import annotations

import argparse
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from policysim.cli import (
    COMMAND_MODULES,
    KAFKA_CLIENT_LOGGERS,
    NOISY_LOGGERS,
    PROG_DEST,
    DefaultsHelpFormatter,
    _CurrentStderrHandler,
    build_parser,
    configure_logging,
    main,
    subparsers,
)

ROOT = Path(__file__).resolve().parents[2]
POLICY = str(ROOT / "policies" / "examples" / "pta-vpn-2024.yaml")

HEAVY = ("faust", "aiokafka", "kafka", "numpy", "matplotlib", "rich", "msgspec", "pyroaring")
# Installed only with the dev extras: a plain `pip install .` must still build the parser.
DEV_ONLY = ("psutil", "pytricia", "netaddr", "jsonschema", "hypothesis")

# Which heavy libraries are loaded after importing MODULES and registering their commands.
_PROBE = """
import argparse, importlib, json, sys
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    if hasattr(module, "register"):
        module.register(argparse.ArgumentParser().add_subparsers())
    else:
        module.build_parser()
print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))
"""


def _heavy_after(*modules: str) -> list[str]:
    probe = [sys.executable, "-c", _PROBE.format(modules=HEAVY + DEV_ONLY), *modules]
    return json.loads(subprocess.run(probe, capture_output=True, text=True, check=True).stdout)


def _leaves() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every parser that runs a command (``policysim policy check``, ``policysim run``, ...)."""
    return [(p.prog, p) for p in subparsers(build_parser()) if "handler" in p._defaults]


def test_building_the_parser_imports_nothing_heavy() -> None:
    """``policysim --help`` stays instant: command modules import their work lazily."""
    if not _heavy_after("policysim.cli"):
        return
    culprits = {name: _heavy_after(name) for name in COMMAND_MODULES}
    culprits = {name: found for name, found in culprits.items() if found}
    pytest.fail(f"building the parser imports heavy libraries: {culprits}")


def test_help_answers_without_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "policysim", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "COMMAND" in result.stdout and "--log-level" in result.stdout


@pytest.mark.parametrize("prog", [prog for prog, _ in _leaves()])
def test_every_flag_says_its_default(prog: str) -> None:
    """Each shown optional flag's help states its default, says it is required, or is a switch."""
    parser = dict(_leaves())[prog]
    formatter = parser._get_formatter()
    assert isinstance(formatter, DefaultsHelpFormatter)
    missing = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        if action.nargs == 0:  # a switch: on when given
            continue
        text = formatter.shown_help(action)
        if "default" not in text.lower() and "required" not in text.lower():
            missing.append(f"{'/'.join(action.option_strings)}: {text!r}")
    assert not missing, f"{prog}: flags without their default in --help: {missing}"


@pytest.mark.parametrize("prog", [prog for prog, _ in _leaves()])
def test_global_flags_are_accepted_after_every_subcommand(prog: str) -> None:
    parser = dict(_leaves())[prog]
    for flag in ("--config", "--log-level"):
        action = parser._option_string_actions[flag]
        assert action.default is argparse.SUPPRESS, f"{prog} {flag} would hide the global one"
    assert parser._defaults[PROG_DEST] == prog


def _config(*argv: str, capsys: pytest.CaptureFixture) -> dict:
    assert main([*argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_global_flag_after_the_subcommand_wins(capsys: pytest.CaptureFixture) -> None:
    def level(*argv: str) -> str:
        return _config(*argv, capsys=capsys)["log_level"]["value"]

    assert level("config", "--format", "json", "--log-level", "error") == "ERROR"
    assert level("--log-level", "WARNING", "config", "--format", "json") == "WARNING"
    both = ("--log-level", "WARNING", "config", "--log-level", "ERROR", "--format", "json")
    assert level(*both) == "ERROR"


def test_config_flag_after_a_nested_subcommand(tmp_path: Path, capsys) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("[policysim]\nlog_level = 'ERROR'\n")
    assert main(["policy", "check", POLICY, "--config", str(settings)]) == 0
    assert logging.getLogger().level == logging.ERROR
    with pytest.raises(SystemExit) as stop:
        main(["policy", "check", POLICY, "--config", str(tmp_path / "missing.toml")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "missing.toml: cannot read settings" in err and "Traceback" not in err


def test_a_bad_log_level_in_the_config_is_a_sentence(tmp_path: Path, capsys) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("[policysim]\nlog_level = 'LOUD'\n")
    with pytest.raises(SystemExit) as stop:
        main(["--config", str(settings), "config"])
    assert stop.value.code == 2
    assert "log level 'LOUD': use one of DEBUG, INFO, WARNING, ERROR" in capsys.readouterr().err


def test_an_unexpected_error_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, caplog
) -> None:
    def broken(args: argparse.Namespace, settings: object) -> int:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("policysim.commands.policy.run_check", broken)
    assert main(["policy", "check", POLICY]) == 1
    err = capsys.readouterr().err
    assert err == (
        "policysim policy check: internal error: RuntimeError: the disk is full;"
        " run again with --log-level DEBUG to see where\n"
    )
    assert "Traceback" not in err
    with caplog.at_level(logging.DEBUG, logger="policysim"):
        assert main(["policy", "check", POLICY, "--log-level", "DEBUG"]) == 1
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.exc_info[0] is RuntimeError


def test_ctrl_c_exits_130_quietly(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def interrupted(args: argparse.Namespace, settings: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("policysim.commands.config.run", interrupted)
    assert main(["config"]) == 130
    assert capsys.readouterr().err == ""


def test_other_libraries_log_only_errors_unless_debugging() -> None:
    configure_logging("INFO")
    assert all(logging.getLogger(name).level == logging.ERROR for name in NOISY_LOGGERS)
    # Kafka clients' connection errors are counted and reported by the commands themselves.
    assert all(logging.getLogger(n).level == logging.CRITICAL for n in KAFKA_CLIENT_LOGGERS)
    configure_logging("DEBUG")
    names = NOISY_LOGGERS + KAFKA_CLIENT_LOGGERS
    assert all(logging.getLogger(name).level == logging.DEBUG for name in names)
    configure_logging("INFO")


def test_log_lines_go_to_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """A live progress bar swaps sys.stderr for a proxy that prints above the bar."""
    handler = _CurrentStderrHandler()
    first, second = io.StringIO(), io.StringIO()
    record = logging.makeLogRecord({"msg": "hello", "levelno": logging.INFO})
    monkeypatch.setattr(sys, "stderr", first)
    handler.emit(record)
    monkeypatch.setattr(sys, "stderr", second)
    handler.emit(record)
    assert first.getvalue() == second.getvalue() == "hello\n"


def test_log_lines_print_above_a_live_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console
    from rich.progress import Progress

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=60)
    logger = logging.getLogger("policysim.test_cli")
    logger.propagate = False
    logger.addHandler(_CurrentStderrHandler())
    try:
        with Progress(console=console) as progress:
            progress.add_task("working", total=10)
            logger.warning("a line for people")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    assert "a line for people" in screen.getvalue()


def test_third_party_warnings_are_not_shown() -> None:
    code = (
        "import warnings\n"
        "from policysim.cli import configure_logging\n"
        "configure_logging('INFO')\n"
        "warnings.warn('library noise', UserWarning)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and "library noise" not in result.stderr
