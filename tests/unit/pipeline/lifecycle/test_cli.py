"""The lifecycle commands are registered on `secmon`, confirm on a terminal, and parse instants."""

from __future__ import annotations

import argparse

import pytest

from pipeline.cli import _parser
from pipeline.lifecycle import cli


@pytest.mark.parametrize(
    "argv",
    [
        ["lifecycle", "run"],
        ["backup", "run"],
        ["backup", "list"],
        ["backup", "verify"],
        ["backup", "prune", "--yes"],
        ["hold", "open", "--incident", "I", "--reason", "r"],
        ["hold", "close", "--incident", "I"],
        ["hold", "list", "--all"],
        ["purge", "--workspace", "ws-b", "--dry-run"],
    ],
)
def test_every_command_is_registered(argv):
    args = _parser().parse_args(argv)
    assert callable(args.func) and args.func.__module__ == "pipeline.lifecycle.cli"


def test_purge_needs_a_workspace(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["purge"])
    assert "--workspace" in capsys.readouterr().err


def test_confirmation_is_asked_on_a_terminal_only(monkeypatch):
    args = argparse.Namespace(yes=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli._confirm(args, "delete?")  # cron: no one to ask
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    assert not cli._confirm(args, "delete?")
    monkeypatch.setattr("builtins.input", lambda _prompt: "yes")
    assert cli._confirm(args, "delete?")
    assert cli._confirm(argparse.Namespace(yes=True), "delete?")


def test_requested_at_needs_a_timezone():
    assert cli._instant("2026-11-30T08:00:00+01:00").isoformat() == "2026-11-30T07:00:00+00:00"
    with pytest.raises(argparse.ArgumentTypeError, match="no timezone"):
        cli._instant("2026-11-30T08:00:00")
