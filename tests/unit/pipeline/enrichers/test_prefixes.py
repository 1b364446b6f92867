"""The CIDR prefix table: most specific entry per group, both families, against a brute-force oracle."""

from __future__ import annotations

import ipaddress
import random

import pytest

from pipeline.enrichers import prefixes
from pipeline.enrichers.prefixes import (
    Block,
    PrefixTable,
    address_key,
    parse_address,
    parse_block,
    release,
    sorted_in_slices,
)


def table(*rows: tuple[str, str, str]) -> PrefixTable[str]:
    return PrefixTable((parse_block(net), group, value) for net, group, value in rows)


def find(t: PrefixTable[str], ip: str) -> tuple[str, ...]:
    return t.lookup(ipaddress.ip_address(ip))


def test_nested_blocks_most_specific_first_one_per_group():
    t = table(
        ("10.0.0.0/8", "a", "a8"), ("10.1.0.0/16", "a", "a16"), ("10.1.2.3", "b", "b32"), ("10.1.0.0/16", "b", "b16")
    )
    assert find(t, "10.1.2.3") == ("b32", "a16")
    assert find(t, "10.1.2.4") == ("b16", "a16")
    assert find(t, "10.2.0.0") == ("a8",)
    assert find(t, "11.0.0.0") == () and find(t, "9.255.255.255") == ()


def test_whole_space_and_single_addresses_at_the_edges():
    t = table(
        ("0.0.0.0/0", "g", "v4-all"),
        ("255.255.255.255/32", "h", "top"),
        ("0.0.0.0/32", "h", "bottom"),
        ("::/0", "g", "v6-all"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "h", "v6-top"),
    )
    assert find(t, "255.255.255.255") == ("top", "v4-all")
    assert find(t, "0.0.0.0") == ("bottom", "v4-all")
    assert find(t, "128.0.0.1") == ("v4-all",)
    assert find(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == ("v6-top", "v6-all")
    assert find(t, "::") == ("v6-all",)


def test_families_do_not_mix():
    t = table(("::/96", "g", "v6"))  # ::a.b.c.d is not a.b.c.d
    assert find(t, "1.2.3.4") == () and find(t, "::1.2.3.4") == ("v6",)


def test_duplicate_block_in_one_group_keeps_the_first_listing():
    t = table(("192.0.2.0/24", "g", "first"), ("192.0.2.0/24", "g", "second"), ("192.0.2.0/24", "h", "other"))
    assert set(find(t, "192.0.2.9")) == {"first", "other"} and len(t) == 3


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("10.1.2.3", "10.1.2.3"),
        ("10.1.2.3/32", "10.1.2.3"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (" 2001:DB8::/32 ", "2001:db8::/32"),
        ("2001:db8::1/128", "2001:db8::1"),
        ("::/0", "::/0"),
        ("10.0.0.0/255.0.0.0", "10.0.0.0/8"),
        ("fe80::1%eth0/64", "fe80::/64"),
    ],
)
def test_parse_block_normalizes(text, canonical):
    assert str(parse_block(text)) == canonical


@pytest.mark.parametrize(
    "bad",
    ["010.1.1.1", "10.0.0.0/33", "2001:db8::/129", "", "host.example", "10.0.0.0/", "10.0.0.0/-1", "1.2.3.4/24/1"],
)
def test_parse_block_rejects(bad):
    with pytest.raises(ValueError):
        parse_block(bad)


@pytest.mark.parametrize("seed", range(3))
def test_parse_block_agrees_with_ipaddress(seed):
    rng = random.Random(seed)
    for _ in range(300):
        version = rng.choice((4, 6))
        bits = 32 if version == 4 else 128
        net = ipaddress.ip_network((rng.getrandbits(bits), rng.randint(0, bits)), strict=False)
        block = parse_block(str(net))
        assert (block.version, block.first, block.last) == (
            version,
            int(net.network_address),
            int(net.broadcast_address),
        )


def test_parse_address_is_strict_and_maps_ipv4_in_ipv6():
    assert str(parse_address("::ffff:8.8.8.8")) == "8.8.8.8"
    assert parse_address("010.1.1.1") is None and parse_address("1.2.3") is None and parse_address(None) is None


def _random_block(rng: random.Random, version: int) -> Block:
    bits = 32 if version == 4 else 128
    # a small address universe so that blocks nest and collide often
    base = rng.choice([0x0A000000, 0xC0A80000]) if version == 4 else 0x20010DB8 << 96
    prefix = rng.randint(bits - 12, bits) if rng.random() < 0.9 else rng.randint(0, bits)
    addr = base + rng.getrandbits(12)
    return Block(version, addr >> (bits - prefix) << (bits - prefix), prefix)


@pytest.mark.parametrize("slice_size", [4096, 7])  # 7: the table is sorted in slices and merged
@pytest.mark.parametrize("version", [4, 6])
@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force(version, seed, slice_size, monkeypatch):
    monkeypatch.setattr(prefixes, "SLICE", slice_size)
    rng = random.Random(seed)
    rows = [(_random_block(rng, version), rng.choice("abc"), i) for i in range(200)]
    t = PrefixTable(rows)
    first_listing: dict = {}
    for net, group, value in rows:
        first_listing.setdefault((net, group), value)
    base = 0x0A000000 if version == 4 else 0x20010DB8 << 96
    for _ in range(300):
        addr = ipaddress.ip_address(rng.choice([base, 0xC0A80000 if version == 4 else base]) + rng.getrandbits(12))
        covering = sorted(
            ((b, g) for b, g in first_listing if b.first <= int(addr) <= b.last), key=lambda k: -k[0].prefixlen
        )
        expected, groups = [], set()
        for net, g in covering:
            if g not in groups:
                groups.add(g)
                expected.append(first_listing[(net, g)])
        got = t.lookup(addr)
        assert sorted(got) == sorted(expected), addr
        lengths = [rows[v][0].prefixlen for v in got]  # value == row index
        assert lengths == sorted(lengths, reverse=True), "most specific first"


@pytest.mark.parametrize(
    "text",
    [
        "1.2.3.4",
        "255.255.255.255",
        "::",
        "::1",
        "2001:DB8::1",
        "::ffff:8.8.8.8",
        "::1.2.3.4",
        "fe80::1%eth0",
        "010.1.1.1",
        "1.2.3",
        "0x7f.0.0.1",
        " 1.2.3.4",
        "256.0.0.1",
        "1:2:3:4:5:6:7:8:9",
        "",
        "\x00",
        "é.1.1.1",
    ],
)
def test_address_key_agrees_with_ipaddress(text):
    addr = parse_address(text)
    assert address_key(text) == (None if addr is None else (addr.version, int(addr)))


@pytest.mark.parametrize("count", [0, 1, 7, 8, 50])
def test_sorted_in_slices_is_a_stable_sort_that_empties_its_input(count, monkeypatch):
    monkeypatch.setattr(prefixes, "SLICE", 4)
    rng = random.Random(count)
    items = [(rng.randint(0, 5), i) for i in range(count)]
    expected = sorted(items, key=lambda item: item[0])
    assert sorted_in_slices(items, key=lambda item: item[0]) == expected and items == []


def test_release_and_clear_empty_what_they_are_given(monkeypatch):
    monkeypatch.setattr(prefixes, "SLICE", 3)
    items, keys = list(range(10)), set(range(10))
    release(items)
    release(keys)
    assert items == [] and keys == set()
    t = table(("10.0.0.0/8", "a", "x"), ("2001:db8::/32", "a", "y"))
    t.clear()
    assert len(t) == 0 and find(t, "10.1.2.3") == () and find(t, "2001:db8::1") == ()
