"""Geography helpers of the travel detectors: distances, internal addresses, the border table."""

from __future__ import annotations

import pytest

from detectors.rules._geo import NEIGHBOURS, distance_km, is_internal, same_or_neighbours


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        ((52.52, 13.405), (-33.8688, 151.2093), 16_095),  # Berlin - Sydney
        ((52.52, 13.405), (48.1351, 11.582), 504),  # Berlin - Munich
        ((51.5074, -0.1278), (40.7128, -74.006), 5_570),  # London - New York
        ((0.0, 179.5), (0.0, -179.5), 111),  # across the antimeridian
    ],
)
def test_great_circle_distances(a, b, km):
    assert distance_km(*a, *b) == pytest.approx(km, rel=0.005)
    assert distance_km(*a, *a) == 0


def test_the_border_table_is_symmetric_and_uses_iso_codes():
    one_sided = sorted(f"{a}-{b}" for a, others in NEIGHBOURS.items() for b in others if a not in NEIGHBOURS.get(b, ()))
    assert not one_sided, f"borders listed on one side only: {one_sided}"
    assert all(len(code) == 2 and code.isupper() for code in NEIGHBOURS)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("DE", "DE", True),
        ("DE", "AT", True),
        ("at", "de", True),
        ("US", "CA", True),
        ("DE", "US", False),
        ("GB", "FR", False),
        ("AU", "NZ", False),
        ("XX", "YY", False),
    ],
)
def test_same_or_neighbours(a, b, expected):
    assert same_or_neighbours(a, b) is expected


@pytest.mark.parametrize(
    ("ip", "internal"),
    [
        ("10.1.2.3", True),
        ("172.31.255.1", True),
        ("192.168.0.10", True),
        ("100.64.1.1", True),
        ("127.0.0.1", True),
        ("169.254.1.1", True),
        ("fd12:3456::1", True),
        ("fe80::1", True),
        ("::1", True),
        ("185.220.101.45", False),
        ("198.51.100.23", False),
        ("2001:db8::1", False),
        ("172.32.0.1", False),
    ],
)
def test_internal_addresses(ip, internal):
    assert is_internal(ip) is internal
