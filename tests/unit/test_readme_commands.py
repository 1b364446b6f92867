"""The commands README and docs/ show work.

Every shell block is either marked `<!-- test: run -->`, and then run line by line from the
repository root with the venv first on PATH, as after `source .venv/bin/activate` (exit 0, no
traceback), or marked `<!-- test: needs ... -->` with what it needs (services, a file of your own);
an unmarked one fails the test, which lists them all. Every `secmon ...` command shown in a block
that is not run must at least parse: its subcommand and flags exist. `console` blocks are
Elasticsearch requests (Kibana Dev Tools): they need Elasticsearch, and their JSON must parse.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import _global_options, _parser

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- test: (?P<mark>[^>]*?) -->\n)?```(?P<lang>sh|bash|console)\n(?P<body>.*?)```", re.S)
VENV_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def blocks(lang: str = "shell") -> list[tuple[str, str | None, str]]:
    """(page, mark, body) of the shell blocks (`lang="console"`: the Elasticsearch requests)."""
    found = []
    for page in PAGES:
        for m in BLOCK.finditer(page.read_text(encoding="utf-8")):
            if (m.group("lang") == "console") == (lang == "console"):
                found.append((page.name, m.group("mark"), m.group("body")))
    return found


def _lines(body: str) -> list[str]:
    return [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


RUN = [(page, line) for page, mark, body in blocks() if mark == "run" for line in _lines(body)]
SKIPPED = [(page, mark) for page, mark, _ in blocks() if mark and mark.startswith("needs")]


@pytest.mark.parametrize(("page", "line"), RUN, ids=[f"{p}: {ln[:60]}" for p, ln in RUN])
def test_marked_command_runs(page: str, line: str):
    env = {**os.environ, "PATH": VENV_PATH}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{page}: `{line}` exited {done.returncode}:\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr


def test_there_are_marked_commands_and_skips_say_why():
    assert len(RUN) >= 5
    assert all(mark.startswith("needs ") and len(mark) > 8 for _, mark in SKIPPED)


def test_every_shell_block_is_run_or_says_what_it_needs():
    unmarked = [f"{page}: {body.splitlines()[0][:70]}" for page, mark, body in blocks() if not mark]
    assert not unmarked, "mark these <!-- test: run --> or <!-- test: needs WHAT -->:\n" + "\n".join(unmarked)


REQUESTS = [(page, body) for page, _, body in blocks("console")]


@pytest.mark.parametrize(("page", "body"), REQUESTS, ids=[f"{p}: {b.splitlines()[0][:50]}" for p, b in REQUESTS])
def test_elasticsearch_requests_shown_are_valid(page: str, body: str):
    request, _, payload = body.partition("\n")
    assert re.fullmatch(r"(GET|POST|PUT|DELETE) [\w.*,-]+/_\w+(\?\S*)?", request), f"{page}: {request}"
    if payload.strip():
        json.loads(payload)


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
