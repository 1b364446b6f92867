"""Tiny MaxMind City and ASN databases (IPv4 and IPv6) for the GeoIP tests and the enrichment benchmark.

Built at test time with mmdb-writer (a test dependency) instead of committing binaries. The records
mimic GeoLite2's layout, so the real `maxminddb` reader code path is exercised.
"""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

# network -> (country iso, country, city, region, lat, lon, accuracy km)
CITIES = {
    # private/documentation blocks with data: the enricher must never look these up
    "10.0.0.0/8": ("ZZ", "Nowhere", "Private City", "None", 0.0, 0.0, 1),
    "2001:db8::/32": ("ZZ", "Nowhere", "Documentation City", "None", 0.0, 0.0, 1),
    "81.2.69.0/24": ("GB", "United Kingdom", "London", "England", 51.5142, -0.0931, 10),
    "89.160.20.0/24": ("SE", "Sweden", "Linköping", "Östergötland County", 58.4167, 15.6167, 76),
    "2a02:cf40::/32": ("NO", "Norway", "Oslo", "Oslo County", 59.9127, 10.7461, 100),
}
# network -> (AS number, organization)
ASNS = {
    "81.2.69.0/24": (20712, "Andrews & Arnold Ltd"),
    "89.160.20.0/24": (29518, "Bredband2 AB"),
    "2a02:cf40::/32": (12345, "Example Norway AS"),
    "10.0.0.0/8": (64512, "Private AS"),
}


def _city_record(row: tuple) -> dict:
    iso, country, city, region, lat, lon, radius = row
    return {
        "country": {"iso_code": iso, "names": {"en": country}},
        "city": {"names": {"en": city}},
        "subdivisions": [{"names": {"en": region}}],
        "location": {"latitude": lat, "longitude": lon, "accuracy_radius": radius},
    }


def write_databases(directory: Path) -> tuple[Path, Path]:
    """Write GeoLite2-City-test.mmdb and GeoLite2-ASN-test.mmdb into `directory`; return their paths."""
    city = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-City",
        languages=["en"],
        description="secmon test city database",
    )
    for net, row in CITIES.items():
        city.insert_network(IPSet([net]), _city_record(row))
    asn = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-ASN",
        languages=["en"],
        description="secmon test ASN database",
    )
    for net, (number, org) in ASNS.items():
        asn.insert_network(IPSet([net]), {"autonomous_system_number": number, "autonomous_system_organization": org})
    paths = directory / "GeoLite2-City-test.mmdb", directory / "GeoLite2-ASN-test.mmdb"
    city.to_db_file(str(paths[0]))
    asn.to_db_file(str(paths[1]))
    return paths
