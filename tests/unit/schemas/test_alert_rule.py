"""An alert's `rule` is one instance shared by every alert of a detector: it cannot be changed."""

from __future__ import annotations

import pydantic
import pytest

from detectors.alerts import _rule


def test_the_shared_rule_of_a_detector_cannot_be_changed():
    args = ("ssh_bruteforce", "SSH brute force", 3, "stable", ("T1110",), "secmon", ())
    rule = _rule(*args)
    assert _rule(*args) is rule  # one instance for every alert of the detector
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        rule.maturity = "experimental"
    assert _rule(*args).maturity == "stable"
