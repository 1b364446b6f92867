"""Sigma rules, unmodified, matched in-process: loader, field-mapping pipelines, matcher, correlations.

Pure Python (pySigma for parsing and mapping, no Faust); `stream` adapts the compiled rules to the
detection engine, `pipeline/sigma_cli.py` to the `secmon sigma` commands.
"""
