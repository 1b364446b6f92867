"""The commands README and docs/ show work.

A shell block marked `<!-- test: run -->` is run line by line from the repository root (exit 0,
no traceback); one marked `<!-- test: needs ... -->` is skipped with that reason (services, a
file of your own). Every other `secmon ...` command shown in a shell block must at least parse:
its subcommand and flags exist.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import _global_options, _parser

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- test: (?P<mark>[^>]*?) -->\n)?```(?:sh|bash|console)\n(?P<body>.*?)```", re.S)


def blocks() -> list[tuple[str, str | None, str]]:
    found = []
    for page in PAGES:
        for m in BLOCK.finditer(page.read_text(encoding="utf-8")):
            found.append((page.name, m.group("mark"), m.group("body")))
    return found


def _lines(body: str) -> list[str]:
    return [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


RUN = [(page, line) for page, mark, body in blocks() if mark == "run" for line in _lines(body)]
SKIPPED = [(page, mark) for page, mark, _ in blocks() if mark and mark.startswith("needs")]


@pytest.mark.parametrize(("page", "line"), RUN, ids=[f"{p}: {ln[:60]}" for p, ln in RUN])
def test_marked_command_runs(page: str, line: str):
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{page}: `{line}` exited {done.returncode}:\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr


def test_there_are_marked_commands_and_skips_say_why():
    assert len(RUN) >= 5
    assert all(mark.startswith("needs ") and len(mark) > 8 for _, mark in SKIPPED)


def _secmon_argv(line: str) -> list[str] | None:
    m = re.search(r"(?:^|[\s|;(])(?:\.venv/bin/)?secmon\s+(.*)", line)
    if m is None or "<" in m.group(1) or "..." in m.group(1):
        return None
    text = re.split(r"\s(?:\||>|2>|&&|&)(?:\s|$)|;|\s#", m.group(1))[0]
    text = re.sub(r"\[(--[^\]]*)\]", r"\1", text)  # a synopsis' [--optional FLAG] is shown with it
    try:
        return shlex.split(text)
    except ValueError:
        return None


SHOWN = [
    (page, line, argv)
    for page, mark, body in blocks()
    if mark != "run"
    for line in _lines(body)
    if (argv := _secmon_argv(line))
]


@pytest.mark.parametrize(("page", "line", "argv"), SHOWN, ids=[f"{p}: {ln[:60]}" for p, ln, _ in SHOWN])
def test_shown_command_parses(page: str, line: str, argv: list[str]):
    _, _, rest = _global_options(argv)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            _parser().parse_args(rest)
        except SystemExit as done:
            assert done.code == 0, f"{page}: `{line}` does not parse: {err.getvalue().strip().splitlines()[-1:]}"
