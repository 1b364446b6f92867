"""Longest-prefix match over IPv4/IPv6 CIDRs: sorted non-overlapping integer ranges + bisect.

A `PrefixTable` is built once from (block, group, value) entries and answers, for one address,
the value of the most specific entry of each group that covers it (most specific first). CIDR
blocks are either disjoint or nested, so a single sweep over the blocks sorted by start cuts each
address family into non-overlapping segments, each labelled with what covers it; a lookup is one
`bisect` over the segment starts. Blocks and addresses are plain integers here, never
`ipaddress` objects: a million of those would take over a gigabyte.

Tables may be built in a background thread while another thread serves lookups (threat-intel
reloads), so the build never holds the GIL for long: it sorts in slices and merges in Python, and
frees its big temporaries a slice at a time (`release`). One C call over a million items (a
`list.sort`, or dropping a list whose items die with it) would stop every other thread for 0.2-4 s.
"""

from __future__ import annotations

import heapq
import ipaddress
from array import array
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, MutableSequence
from operator import itemgetter
from socket import AF_INET, AF_INET6, inet_pton
from typing import Any, Generic, NamedTuple, TypeVar

V = TypeVar("V")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_BITS = {4: 32, 6: 128}
SLICE = 4096  # items per C call in the steps above: ~1-10 ms with the GIL held


class Block(NamedTuple):
    """A CIDR block as integers: address family (4 or 6), first address, prefix length."""

    version: int
    first: int
    prefixlen: int

    @property
    def last(self) -> int:
        """Last address of the block."""
        return self.first | ((1 << (_BITS[self.version] - self.prefixlen)) - 1)

    def __str__(self) -> str:
        """Canonical text: a bare address for a single host, else the CIDR."""
        addr = ipaddress.IPv4Address(self.first) if self.version == 4 else ipaddress.IPv6Address(self.first)
        return str(addr) if self.prefixlen == _BITS[self.version] else f"{addr}/{self.prefixlen}"


def parse_address(text: str) -> Address | None:
    """The address `text` names (IPv4-mapped IPv6 as IPv4, like the schema), or None if it is not one.

    Only the strict textual forms count: `010.1.1.1`, `1.2.3` or `0x7f.1` are not addresses here,
    although C's inet_aton (and libraries built on it) would read them as some other address.
    """
    if not isinstance(text, str):
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def address_key(text: str) -> tuple[int, int] | None:
    """(4 or 6, the address as an integer) of a strictly written address, IPv4-mapped IPv6 as IPv4; else None.

    The fast path of `parse_address` (inet_pton is as strict as `ipaddress` and ~8x faster).
    """
    if not isinstance(text, str):
        return None
    try:
        return 4, int.from_bytes(inet_pton(AF_INET, text), "big")
    except (OSError, ValueError):
        pass
    try:
        value = int.from_bytes(inet_pton(AF_INET6, text), "big")
    except (OSError, ValueError):
        addr = parse_address(text) if "%" in text else None  # zone ids (fe80::1%eth0): ipaddress knows them
        return None if addr is None else (addr.version, int(addr))
    if value >> 32 == 0xFFFF:
        return 4, value & 0xFFFFFFFF
    return 6, value


def parse_block(text: str) -> Block:
    """A CIDR or a bare address; host bits are dropped, IPv4-mapped blocks become IPv4.

    Raises ValueError saying what is wrong with `text`.
    """
    text = text.strip()
    addr, slash, prefix = text.partition("/")
    key = address_key(addr)
    if key is None or (slash and not prefix.isdigit()):  # rarer forms (netmask after the slash): ipaddress
        return _parse_block_slow(text)
    bits = 32 if key[0] == 4 and ":" not in addr else 128
    length = int(prefix) if slash else bits
    if length > bits:
        raise ValueError(f"{text!r}: prefix length {length} is over {bits}")
    if bits == 128 and key[0] == 4:  # ::ffff:a.b.c.d/len
        if length < 96:
            return _parse_block_slow(text)
        length -= 96
    width = _BITS[key[0]]
    return Block(key[0], key[1] >> (width - length) << (width - length), length)


def _parse_block_slow(text: str) -> Block:
    net = ipaddress.ip_network(text, strict=False)  # its ValueError says what is wrong
    first = int(net.network_address)
    if net.version == 6 and net.prefixlen >= 96 and first >> 32 == 0xFFFF:
        return Block(4, first & 0xFFFFFFFF, net.prefixlen - 96)
    return Block(net.version, first, net.prefixlen)


class _Ranges:
    """One address family cut into segments [starts[i], starts[i+1]), each with its matches."""

    __slots__ = ("starts", "values")

    def __init__(self, starts: MutableSequence[int], values: list[tuple]):
        self.starts = starts
        self.values = values

    def find(self, key: int) -> tuple:
        """The matches of the segment holding `key`."""
        return self.values[bisect_right(self.starts, key) - 1]


class PrefixTable(Generic[V]):
    """Most-specific-per-group CIDR lookup for both address families."""

    def __init__(self, entries: Iterable[tuple[Block, Hashable, V]]):
        by_family: dict[int, list[tuple[int, int, int, Hashable, V]]] = {4: [], 6: []}
        for block, group, value in entries:
            by_family[block.version].append((block.first, block.prefixlen, block.last, group, value))
        self.size = len(by_family[4]) + len(by_family[6])
        # IPv4 keys fit 64 bits: an array holds them in 8 bytes each instead of a ~36-byte int object
        self._v4 = _sweep(by_family.pop(4), array("Q"))
        self._v6 = _sweep(by_family.pop(6), [])

    def __len__(self) -> int:
        return self.size

    def lookup(self, addr: Address) -> tuple[V, ...]:
        """Values covering `addr`: the most specific entry of each group, most specific first."""
        return (self._v4 if addr.version == 4 else self._v6).find(int(addr))

    def lookup_key(self, version: int, value: int) -> tuple[V, ...]:
        """`lookup` for an `address_key` result."""
        return (self._v4 if version == 4 else self._v6).find(value)

    @property
    def segments(self) -> int:
        """Number of non-overlapping segments (a measure of the table's size in memory)."""
        return len(self._v4.starts) + len(self._v6.starts)

    def clear(self) -> None:
        """Empty the table a slice at a time (see `release`): for a retired table, off the event path."""
        for ranges in (self._v4, self._v6):
            release(ranges.values)
            if isinstance(ranges.starts, list):
                release(ranges.starts)  # IPv6 starts are int objects; the IPv4 array is one block
            else:
                del ranges.starts[:]
            ranges.starts.append(0)
            ranges.values.append(())
        self.size = 0


def release(items: list | set) -> None:
    """Empty a list or set a slice at a time, so that freeing its items never holds the GIL for long."""
    if isinstance(items, list):
        while items:
            del items[-SLICE:]
    else:
        while items:
            items.pop()


def sorted_in_slices(items: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    """`sorted(items, key=key)` (stable) in C calls of at most SLICE items merged in Python; empties `items`."""
    runs = []
    while items:  # from the end: deleting a slice there moves nothing
        runs.append(sorted(items[-SLICE:], key=key))
        del items[-SLICE:]
    runs.reverse()
    merged = list(heapq.merge(*runs, key=key))  # on equal keys the earlier run comes first: stable
    while runs:
        runs.pop().clear()
    return merged


def _sweep(items: list[tuple[int, int, int, Hashable, V]], starts: array | list) -> _Ranges:
    """Cut one family into segments; `items` are (first, prefix length, last, group, value).

    `starts` is the empty container the segment starts go into (an array for IPv4).
    """
    # wider blocks first at equal starts, so a block's parents are already on the stack
    items = sorted_in_slices(items, itemgetter(0, 1))
    starts.append(0)
    values: list[tuple] = [()]
    stack: list[tuple[int, int]] = []  # (last address, item index), innermost on top
    shared: dict[tuple[int, ...], tuple] = {}  # nested labels recur around their children: share them
    run: tuple[int, int] | None = None  # the block being repeated, and the groups that listed it
    run_groups: set[Hashable] = set()

    def cut(position: int) -> None:
        value = _value(stack, items, shared)
        if starts[-1] == position:
            values[-1] = value
            if len(values) > 1 and values[-2] == value:
                starts.pop()
                values.pop()
        elif values[-1] != value:
            starts.append(position)
            values.append(value)

    for index, (first, _, last, group, _) in enumerate(items):
        if run != (first, last):
            run, run_groups = (first, last), set()
        elif group in run_groups:  # the same block twice in one group: the first listing wins
            continue
        run_groups.add(group)
        while stack and stack[-1][0] < first:
            cut(stack.pop()[0] + 1)
        stack.append((last, index))
        cut(first)
    while stack:
        cut(stack.pop()[0] + 1)
    release(items)
    return _Ranges(starts, values)


def _value(stack: list[tuple[int, int]], items: list, shared: dict[tuple[int, ...], tuple]) -> tuple:
    """Values covering the current segment: the innermost item of each group, innermost first."""
    if not stack:
        return ()
    if len(stack) == 1:  # the common case, one block and no nesting: nothing to share
        return (items[stack[0][1]][4],)
    groups: set[Hashable] = set()
    label = []
    for _last, index in reversed(stack):
        group = items[index][3]
        if group not in groups:
            groups.add(group)
            label.append(index)
    key = tuple(label)
    value = shared.get(key)
    if value is None:
        value = shared[key] = tuple(items[index][4] for index in key)
    return value
