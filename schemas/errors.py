"""The one base of secmon's own errors, below every package so the core can raise it too.

A SecmonError's message says what was wrong and what to do, and names no secret: a command
prints it as it is and exits non-zero; the worker logs it and stops at startup. Anything else
that escapes is a bug.
"""

from __future__ import annotations


class SecmonError(Exception):
    """An error secmon raises on purpose: input, configuration or state it cannot work with."""


class ConfigError(SecmonError, ValueError):
    """Configuration is wrong (settings, detectors, routes, receivers, rule or model files); the
    message lists every problem found, each with its location."""
