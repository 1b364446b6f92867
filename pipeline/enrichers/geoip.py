"""GeoIP/ASN: `geo.*` and `as.*` of `source.ip` and `destination.ip`, and the scope of each address.

Out of the box, for IPv4 and IPv6, two databases that PyPI packages ship fill it:
- countries from geoip2fast's bundled `geoip2fast-ipv6.dat.gz` (MaxMind GeoLite2 Country; its
  default `geoip2fast.dat.gz` is IPv4 only, and its ASN files carry AS names but no AS numbers);
- AS numbers and names from plevin-db-network, read with plevin: the origin AS of the announced
  prefix (majority of RIPE RIS peers), the holder's company (CAIDA AS-to-organization) or else its
  handle as the name. Addresses in no announced prefix get no `as.*`.
`enrich.geoip_city_db` / `enrich.geoip_asn_db` replace the built-in data for their part (city,
region, coordinates, accuracy radius / AS number and name).

Every address first gets a scope (`secmon.address_scope.*`); only public ones are looked up, so
private, loopback, link-local, multicast, documentation, reserved, unspecified and malformed
addresses never reach a database and never crash the enricher.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import cache, lru_cache
from importlib.metadata import version as package_version
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import maxminddb

from pipeline.enrichers.base import Enricher
from pipeline.enrichers.prefixes import Address, PrefixTable, address_key, parse_block
from schemas.event import AddressScope, AddressScopes, AsOrg, AutonomousSystem, Endpoint, Event, Geo, GeoPoint

if TYPE_CHECKING:
    from pipeline.settings import EnrichSettings

BUILTIN_FILE = "geoip2fast-ipv6.dat.gz"
_COUNTRY = re.compile(r"^[A-Z]{2}$")

# IANA special-purpose blocks; the most specific block wins, /0 rows are the defaults per family.
SPECIAL_BLOCKS: tuple[tuple[str, AddressScope], ...] = (
    ("0.0.0.0/0", "public"),
    ("0.0.0.0/8", "reserved"),
    ("0.0.0.0/32", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "private"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link_local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/0", "reserved"),
    ("2000::/3", "public"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("100::/64", "reserved"),
    ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link_local"),
    ("ff00::/8", "multicast"),
)
_SCOPES: PrefixTable[AddressScope] = PrefixTable((parse_block(net), 0, scope) for net, scope in SPECIAL_BLOCKS)


def address_scope(addr: Address) -> AddressScope:
    """public, private, loopback, link_local, multicast, documentation, reserved or unspecified."""
    return _SCOPES.lookup(addr)[0]


class Place(NamedTuple):
    """What the databases know about one address (plain values, so caching shares nothing mutable)."""

    country_iso_code: str | None = None
    country_name: str | None = None
    city_name: str | None = None
    region_name: str | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_radius_km: int | None = None
    as_number: int | None = None
    as_name: str | None = None


class Database(NamedTuple):
    """One source of places: a lookup returning the fields it knows, and its version (provenance)."""

    version: str
    lookup: Callable[[str], dict[str, Any]]


@cache
def _geoip2fast():
    """geoip2fast with its country IPv4+IPv6 file, loaded once per process (~0.3 s, ~60 MB).

    geoip2fast keeps its tables in module globals: one data file per process, whoever loads it.
    """
    from geoip2fast import GeoIP2Fast  # imported here: loading is the expensive part, skip it when unused

    # a full path: given a bare name it would first look in the working directory (and unpickle that)
    db = GeoIP2Fast(geoip2fast_data_file=str(files("geoip2fast") / BUILTIN_FILE))
    return db, db.source_info.rsplit("-", 1)[-1]


@cache
def _plevin():
    """plevin-db-network, memory-mapped once per process: opening takes ~2 ms, and its LZMA blocks are
    decoded on first use and kept (up to ~300 MB once lookups have reached the whole address space)."""
    import plevin
    import plevin_db_network

    # its own path, not plevin's default: that one reads PLEVIN_DB and takes the richest installed file
    return plevin.Plevin(plevin_db_network.PATH)


def builtin_country_database() -> Database:
    """The countries geoip2fast ships (MaxMind GeoLite2 Country): code and English name."""
    db, built = _geoip2fast()

    def lookup(ip: str) -> dict[str, Any]:
        found = db.lookup(ip)  # only canonical public addresses get here: its inet_aton is lax
        if found.is_private or not _COUNTRY.match(found.country_code or ""):
            return {}
        return {"country_iso_code": found.country_code, "country_name": found.country_name}

    return Database(f"geoip2fast-{package_version('geoip2fast')}-{built}", lookup)


def builtin_asn_database() -> Database:
    """The AS numbers and names plevin-db-network ships, for announced prefixes."""
    reader = _plevin()

    def lookup(ip: str) -> dict[str, Any]:
        addr = ipaddress.ip_address(ip)  # only canonical public addresses get here
        network = (reader.file.row(int(addr), addr.version == 6) or {}).get("network") or {}
        if not network.get("asn"):  # unannounced space: a registry holder, but no AS
            return {}
        name = (network.get("operator") or {}).get("company") or network.get("handle")
        return {"as_number": int(network["asn"]), "as_name": name or None}

    return Database(f"plevin-db-network-{package_version('plevin-db-network')}", lookup)


def _open_mmdb(path: Path, setting: str, kind: str) -> maxminddb.Reader:
    """Open a MaxMind database, refusing a missing file or one of the wrong kind with what to do."""
    if not path.is_file():
        raise FileNotFoundError(
            f"enrich.{setting} {path} does not exist; point it at a MaxMind {kind} .mmdb "
            f"(e.g. GeoLite2-{kind}.mmdb) or unset it"
        )
    try:
        reader = maxminddb.open_database(str(path))
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as exc:
        raise ValueError(
            f"enrich.{setting} {path} is not a readable MaxMind database ({exc}); download a fresh GeoLite2-{kind}.mmdb"
        ) from exc
    db_type = reader.metadata().database_type
    if ("ASN" in db_type) != (kind == "ASN"):
        reader.close()
        raise ValueError(
            f"enrich.{setting} {path} is a {db_type} database, not a {kind} one; "
            "check that geoip_city_db and geoip_asn_db are not swapped"
        )
    return reader


def _version(reader: maxminddb.Reader) -> str:
    meta = reader.metadata()
    return f"{meta.database_type}-{meta.build_epoch}"


def city_database(path: Path) -> Database:
    """A MaxMind City (or Country) .mmdb: country, city, region, coordinates, accuracy radius."""
    reader = _open_mmdb(path, "geoip_city_db", "City")

    def lookup(ip: str) -> dict[str, Any]:
        record = _get(reader, ip)
        country = record.get("country") or record.get("registered_country") or {}
        location = record.get("location") or {}
        subdivisions = record.get("subdivisions") or [{}]
        return {
            "country_iso_code": country.get("iso_code"),
            "country_name": _en(country),
            "city_name": _en(record.get("city") or {}),
            "region_name": _en(subdivisions[0]),
            "lat": location.get("latitude"),
            "lon": location.get("longitude"),
            "accuracy_radius_km": location.get("accuracy_radius"),
        }

    return Database(_version(reader), lookup)


def asn_database(path: Path) -> Database:
    """A MaxMind ASN .mmdb: AS number and organization."""
    reader = _open_mmdb(path, "geoip_asn_db", "ASN")

    def lookup(ip: str) -> dict[str, Any]:
        record = _get(reader, ip)
        return {
            "as_number": record.get("autonomous_system_number"),
            "as_name": record.get("autonomous_system_organization"),
        }

    return Database(_version(reader), lookup)


def _get(reader: maxminddb.Reader, ip: str) -> dict[str, Any]:
    try:
        record = reader.get(ip)
    except ValueError:  # an IPv6 address asked of an IPv4-only database
        return {}
    return record if isinstance(record, dict) else {}


def _en(names_holder: dict[str, Any]) -> str | None:
    return (names_holder.get("names") or {}).get("en")


def databases(settings: EnrichSettings) -> list[Database]:
    """The databases the settings ask for; the built-in data only fills what no .mmdb covers."""
    dbs = []
    if settings.geoip_builtin and settings.geoip_city_db is None:
        dbs.append(builtin_country_database())
    if settings.geoip_builtin and settings.geoip_asn_db is None:
        dbs.append(builtin_asn_database())
    if settings.geoip_city_db is not None:
        dbs.append(city_database(settings.geoip_city_db))
    if settings.geoip_asn_db is not None:
        dbs.append(asn_database(settings.geoip_asn_db))
    return dbs


class GeoLookup:
    """Address text -> (scope, place), cached; the pure core of the enricher."""

    def __init__(self, dbs: list[Database], cache_size: int):
        self.dbs = dbs
        self.version = "+".join(db.version for db in dbs) or "scope-only"
        self.resolve = lru_cache(maxsize=cache_size)(self.resolve_uncached)

    def resolve_uncached(self, ip: str) -> tuple[AddressScope, Place | None]:
        """Scope of `ip`, and what the databases know when it is public."""
        key = address_key(ip)
        if key is None:
            return "malformed", None
        scope = _SCOPES.lookup_key(*key)[0]
        if scope != "public" or not self.dbs:
            return scope, None
        fields: dict[str, Any] = {}
        text = _canonical(ip, *key)
        for db in self.dbs:
            fields.update((k, v) for k, v in db.lookup(text).items() if v is not None)
        return scope, Place(**fields) if fields else None

    def apply(self, event: Event) -> None:
        """Set `secmon.address_scope` and fill `geo`/`as` of source and destination (unless the source did)."""
        scopes = {}
        for side_name in ("source", "destination"):
            side: Endpoint | None = getattr(event, side_name)
            if side is None or side.ip is None:
                continue
            scopes[side_name], place = self.resolve(side.ip)
            if place is not None:
                _fill(side, place)
        if scopes:
            event.secmon.address_scope = AddressScopes(**scopes)


def _canonical(ip: str, version: int, value: int) -> str:
    """The text databases expect: IPv4-mapped IPv6 as IPv4, no zone id (it means nothing to them)."""
    if version == 4 and ":" in ip:
        return str(ipaddress.IPv4Address(value))
    return ip.partition("%")[0]


def _fill(side: Endpoint, place: Place) -> None:
    """New models per event: cached places are shared, event fields must not be."""
    if side.geo is None and (place.country_iso_code or place.city_name):
        location = GeoPoint(lat=place.lat, lon=place.lon) if place.lat is not None and place.lon is not None else None
        side.geo = Geo(
            country_iso_code=place.country_iso_code,
            country_name=place.country_name,
            city_name=place.city_name,
            region_name=place.region_name,
            location=location,
            accuracy_radius_km=place.accuracy_radius_km,
        )
    if side.as_ is None and (place.as_number is not None or place.as_name):
        side.as_ = AutonomousSystem(
            number=place.as_number, organization=AsOrg(name=place.as_name) if place.as_name else None
        )


def build(settings: EnrichSettings) -> Enricher:
    """The GeoIP enricher for these settings (opens the databases once)."""
    lookup = GeoLookup(databases(settings), settings.cache_size)
    return Enricher(name="geoip", version=lookup.version, apply=lookup.apply)
