"""One month of application sign-ins of a realistic SaaS, labelled, for judging behaviour-anomaly detection.

    python -m bench.signin_month --out DIR [--users 400] [--workspaces 25] [--days 35] [--takeovers 30]
                                 [--seed 7] [--start 2026-10-01]

Writes, deterministically for a seed:
- `DIR/signins.jsonl`: app_signin JSON lines (the fields of `AppSignin`), sorted by timestamp;
- `DIR/labels.jsonl`: one line per account takeover (`kind`, `start`, `first_success`, and `lines`:
  the 1-based line numbers of the attacker's sign-ins, failures included) and one per benign
  hard-negative episode (`"benign": true`, its `kind` and the lines it shaped);
- `DIR/context/users.csv`: the users context table (pipeline/context) of every account
  (`mfa_required`: app-side MFA, so false for SSO users and the few password-only ones).

The population: workspaces of uneven size (a Zipf-like law: a few big ones), each with a home
country, 1-3 office networks and either SSO (the IdP does the second factor: `auth_method` sso,
`mfa_used` false) or password + MFA (totp, push, webauthn; a few password-only users). Users live
mostly in their workspace's country (some work remotely from elsewhere), on a home ISP whose
address changes now and then, with a timezone, a desktop browser and often a phone, each with a
fixed User-Agent. They sign in during their local working hours (spread per user; weekend users
exist), from the office on office days, from home otherwise, with phones on the carrier network
(often IPv6) or on wifi; ~3-5 % of attempts fail (a mistyped password, a missed push), nearly
always followed by a success.

Addresses are drawn from blocks probed at start-up with the enricher's own lookup
(`pipeline.enrichers.geoip.GeoLookup` over geoip2fast + plevin), so every address enriches to the
intended `source.geo.country_iso_code` and `source.as.number`; each drawn address is checked again.

Hard negatives (benign, labelled): business trips with the own laptop, a new phone, a week of late
work, a user joining mid-month, commercial VPN use, a move to a new home ISP. Takeovers (all after
day 10): credential stuffing (failures from a hosting ASN, then a success), AiTM phishing (a
residential proxy relays the MFA or SSO sign-in), stolen session replay (the victim's own
User-Agent and session minutes after their sign-in, from far away) and a quiet one (the victim's
country, a VPS, at night); each followed by 1-5 more attacker sign-ins within hours.
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from detectors.rules._geo import same_or_neighbours
from pipeline.enrichers.device import classify
from pipeline.enrichers.geoip import GeoLookup, builtin_asn_database, builtin_country_database

UTC = timezone.utc
LEARNING_DAYS = 14  # the first-seen detectors' default learning period: hard negatives mostly come after it
TAKEOVER_FROM_DAY = 11  # takeovers start after day 10, when users have history
EPISODE_DAYS = 7  # sign-ins this long after a lasting change (new phone, new ISP, joining) are its lines

# -- networks ------------------------------------------------------------------------------------
# Home countries: (timezones, residential ISPs, mobile carriers, office/business ISPs), by AS number.
COUNTRIES: dict[str, tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {
    "US": (
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
        (7922, 20115, 7018, 209),
        (21928, 22394),
        (174, 3356, 6461, 701),
    ),
    "GB": (("Europe/London",), (2856, 5089, 5607), (25135, 206067), (8220, 25180, 2856)),
    "DE": (("Europe/Berlin",), (3320, 3209, 8881), (3320, 3209, 6805), (8881, 3320, 8220)),
    "FR": (("Europe/Paris",), (3215, 12322, 15557, 5410), (51207, 5410, 3215), (3215, 8220)),
    "NL": (("Europe/Amsterdam",), (33915, 1136, 6830), (1136, 33915), (1136, 6830)),
    "ES": (("Europe/Madrid",), (3352, 12479, 6739), (3352, 12479), (3352,)),
    "IT": (("Europe/Rome",), (3269, 30722, 1267), (1267, 30722), (3269,)),
    "SE": (("Europe/Stockholm",), (3301,), (3301,), (1299, 3301)),
    "CH": (("Europe/Zurich",), (3303, 13030), (3303,), (3303, 13030)),
    "PL": (("Europe/Warsaw",), (5617,), (5617,), (5617,)),
    "BE": (("Europe/Brussels",), (5432,), (5432,), (5432,)),
    "CA": (("America/Toronto", "America/Vancouver"), (577, 812, 852, 6327), (812, 852), (577, 852)),
    "AU": (("Australia/Sydney", "Australia/Melbourne", "Australia/Perth"), (1221, 4804, 7545), (1221, 4804), (1221,)),
    "JP": (("Asia/Tokyo",), (4713, 2516, 17676), (2516, 17676), (4713, 2914)),
    "BR": (("America/Sao_Paulo",), (28573, 18881, 26615), (26615, 27699), (28573,)),
    "IN": (("Asia/Kolkata",), (24560, 55836), (55836, 24560), (9498,)),
    "SG": (("Asia/Singapore",), (4657, 9506), (9506,), (7473, 4657)),
}
WORKSPACE_COUNTRY_WEIGHTS = {
    "US": 7,
    "GB": 4,
    "DE": 4,
    "FR": 2,
    "NL": 2,
    "CA": 1.5,
    "AU": 1,
    "ES": 1,
    "SE": 1,
    "IN": 1,
    "JP": 0.7,
    "BR": 0.7,
    "CH": 0.7,
    "BE": 0.5,
    "PL": 0.5,
    "IT": 0.7,
    "SG": 0.5,
}
# Hosting/VPS providers (credential stuffing, quiet takeovers), commercial VPN exits, residential proxies.
HOSTING = (
    (14061, "US"),
    (14061, "NL"),
    (14061, "DE"),
    (14061, "GB"),
    (14061, "SG"),
    (14061, "CA"),
    (16276, "FR"),
    (16276, "CA"),
    (24940, "DE"),
    (24940, "FI"),
    (63949, "US"),
    (20473, "US"),
    (20473, "NL"),
    (20473, "JP"),
    (51167, "DE"),
    (51167, "US"),
    (16509, "US"),
    (8075, "US"),
    (396982, "US"),
    (45090, "CN"),
    (62240, "GB"),
    (31898, "US"),
    (16276, "PL"),
)
VPN = (
    (9009, "GB"),
    (9009, "NL"),
    (9009, "US"),
    (9009, "RO"),
    (9009, "DE"),
    (212238, "GB"),
    (212238, "US"),
    (136787, "US"),
    (136787, "GB"),
    (60068, "GB"),
    (39351, "SE"),
)
RESIDENTIAL_PROXY = (
    (7552, "VN"),
    (45899, "VN"),
    (7303, "AR"),
    (8151, "MX"),
    (12389, "RU"),
    (8708, "RO"),
    (7713, "ID"),
    (28573, "BR"),
    (7922, "US"),
    (20115, "US"),
    (55836, "IN"),
    (4766, "KR"),
)
PROBE_SEED = "secmon-signin-month-networks"  # the table does not depend on --seed: same blocks every run
V6_SHARE = 0.5  # share of carrier sign-ins over IPv6 where the carrier has probed IPv6 blocks
V6_HOME_SHARE = 0.35  # share of homes whose browser prefers the ISP's IPv6 (when it has probed IPv6 blocks)

# -- devices -------------------------------------------------------------------------------------
_WIN, _MAC = "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7"
_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
_IOS = "iPhone; CPU iPhone OS 18_6 like Mac OS X"  # iOS 26+ Safari freezes the OS version in the UA
DESKTOP_UAS = (  # (weight, template: {v} is the browser's major version)
    (34, f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/{{v}}.0.0.0 Safari/537.36", (152, 153, 154)),
    (16, f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/{{v}}.0.0.0 Safari/537.36 Edg/{{v}}.0.0.0", (152, 153, 154)),
    (20, f"Mozilla/5.0 ({_MAC}) {_WEBKIT} Chrome/{{v}}.0.0.0 Safari/537.36", (152, 153, 154)),
    (
        12,
        f"Mozilla/5.0 ({_MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{{v}} Safari/605.1.15",
        ("26.4", "27.0"),
    ),
    (6, f"Mozilla/5.0 ({_WIN}; rv:{{v}}.0) Gecko/20100101 Firefox/{{v}}.0", (155, 156, 157)),
    (3, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", (156, 157)),
    (5, f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} Chrome/{{v}}.0.0.0 Safari/537.36", (153, 154)),
    (4, "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", (140, 157)),
)
PHONE_UAS = (
    (
        50,
        f"Mozilla/5.0 ({_IOS}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{{v}} Mobile/15E148 Safari/604.1",
        ("26.4", "27.0"),
    ),
    (
        8,
        f"Mozilla/5.0 ({_IOS}) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{{v}}.0.7499.52 Mobile/15E148 "
        "Safari/604.1",
        (153, 154),
    ),
    (32, f"Mozilla/5.0 (Linux; Android 10; K) {_WEBKIT} Chrome/{{v}}.0.0.0 Mobile Safari/537.36", (152, 153, 154)),
    (
        10,
        f"Mozilla/5.0 (Linux; Android 16; SM-S938B) {_WEBKIT} SamsungBrowser/{{v}}.0 Chrome/148.0.0.0 Mobile "
        "Safari/537.36",
        (30, 31),
    ),
)
ATTACKER_BROWSERS = (  # attackers' own browsers (an anti-detect browser often claims an older Chrome)
    f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/124.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    f"Mozilla/5.0 ({_MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    f"Mozilla/5.0 (Linux; Android 10; K) {_WEBKIT} Chrome/139.0.0.0 Mobile Safari/537.36",
    f"Mozilla/5.0 ({_WIN}; rv:133.0) Gecko/20100101 Firefox/133.0",
)
ATTACKER_TOOLS = ATTACKER_BROWSERS + ("python-requests/2.32.3",)  # credential-stuffing tools, scripted or not

# -- people and companies ------------------------------------------------------------------------
NAMES = {  # locale: (first names, last names), ASCII as they end up in e-mail addresses
    "en": (
        "james mary robert linda michael sarah david emma daniel olivia chris grace kevin hannah ryan "
        "chloe jason laura brian megan",
        "smith johnson brown taylor miller wilson moore clark hall allen "
        "young king wright scott green baker adams nelson hill campbell",
    ),
    "de": (
        "lukas anna jonas lea felix marie leon sophie paul laura maximilian julia tobias katharina",
        "mueller schmidt schneider fischer weber meyer wagner becker schulz hoffmann koch richter",
    ),
    "fr": (
        "lucas camille hugo manon louis chloe jules ines arthur lea theo sarah nathan julie",
        "martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent",
    ),
    "nl": (
        "daan emma sem julia lucas sophie milan tess levi anna thijs lotte",
        "devries jansen bakker visser smit meijer mulder bos vos peters hendriks dekker",
    ),
    "es": (
        "pablo lucia hugo maria alvaro paula diego laura javier carmen sergio elena",
        "garcia fernandez gonzalez rodriguez lopez martinez sanchez perez gomez martin ruiz diaz",
    ),
    "it": (
        "luca giulia marco chiara andrea francesca matteo sara lorenzo elena",
        "rossi russo ferrari esposito bianchi romano colombo ricci marino greco",
    ),
    "sv": (
        "erik anna lars maria johan sara anders emma karl elin",
        "andersson johansson karlsson nilsson eriksson larsson olsson persson svensson gustafsson",
    ),
    "pl": (
        "jakub julia kacper zuzanna szymon maja filip lena",
        "nowak kowalski wisniewski wojcik kaminski lewandowski zielinski szymanski",
    ),
    "pt": (
        "joao maria pedro ana lucas beatriz gabriel julia rafael larissa",
        "silva santos oliveira souza rodrigues ferreira alves pereira lima costa",
    ),
    "ja": (
        "haruto yui sota hina yuto aoi riku mei kenji yuki",
        "sato suzuki takahashi tanaka watanabe ito yamamoto nakamura kobayashi kato",
    ),
    "hi": (
        "aarav priya vivaan ananya arjun diya rohan isha rahul neha",
        "sharma patel singh kumar gupta reddy iyer nair mehta joshi",
    ),
}
LOCALE = {
    "US": "en",
    "GB": "en",
    "CA": "en",
    "AU": "en",
    "SG": "en",
    "DE": "de",
    "CH": "de",
    "FR": "fr",
    "BE": "fr",
    "NL": "nl",
    "ES": "es",
    "IT": "it",
    "SE": "sv",
    "PL": "pl",
    "BR": "pt",
    "JP": "ja",
    "IN": "hi",
}
COMPANIES = (
    "Northwind Logistics",
    "Brightline Media",
    "Kestrel Labs",
    "Halcyon Health",
    "Fernwood Legal",
    "Bluepeak Analytics",
    "Orbital Freight",
    "Cobalt Retail",
    "Tidewater Bank",
    "Meridian Studio",
    "Quarry Games",
    "Pinecrest Schools",
    "Redwood Capital",
    "Juniper Foods",
    "Atlas Robotics",
    "Vireo Travel",
    "Helix Bio",
    "Granite Insurance",
    "Nimbus Cloudworks",
    "Osprey Energy",
    "Cascade Clinics",
    "Larkspur Architects",
    "Mosaic Agency",
    "Tundra Outdoor",
    "Willow Care",
    "Saffron Hotels",
    "Beacon Civic",
    "Lattice Fintech",
)
OUR_COMPANY = ("Secmon Cloud", "ourco")  # our own workspace: its members are our staff (employee=true)
ROLES = (("member", 70), ("viewer", 12), ("admin", 8), ("billing", 4), ("developer", 6))
STAFF_ROLES = ("support", "engineer", "billing", "success", "security")
MFA_METHODS = (("totp", 50), ("push", 32), ("webauthn", 18))


# -- data model ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Network:
    """An autonomous system as seen from one country, with address blocks probed to geolocate there."""

    asn: int
    country: str
    v4: tuple[ipaddress.IPv4Network, ...]
    v6: tuple[ipaddress.IPv6Network, ...] = ()


@dataclass(frozen=True)
class Device:
    """A browser on a computer or a phone, with the one User-Agent it always sends."""

    name: str
    ua: str
    mobile: bool


@dataclass(frozen=True)
class Auth:
    """How a user's successful sign-ins authenticate."""

    method: str
    mfa_used: bool
    mfa_method: str | None = None


@dataclass
class Workspace:
    """A customer (or our own company): country, offices (network + egress addresses), sign-in policy."""

    id: str
    name: str
    domain: str
    country: str
    tz: str
    sso: bool
    offices: list[tuple[Network, tuple[str, ...]]]
    staff: bool = False


@dataclass
class DayPlan:
    """How one day of a user differs from their routine (set by a hard-negative episode)."""

    tag: str
    force: bool = False  # sign in that day whatever the routine says
    skip: bool = False  # travelling: no sign-in at all
    away: tuple[Network, str] | None = None  # trip: the hotel's network and address
    tz: str | None = None  # local hours of the trip's destination
    night: bool = False  # late work: sessions in the evening and night
    office: bool = False  # a joiner's first days at the office
    vpn: Network | None = None  # sessions through a commercial VPN...
    vpn_share: float = 0.0  # ...this share of them


@dataclass
class User:
    """One account: who, where, which devices, and the habits the routine follows."""

    id: str
    email: str
    workspace: Workspace
    role: str
    country: str
    tz: str
    homes: list[tuple[int, Network, str, str | None]]  # (from day, ISP, address, episode tag)
    carrier: Network
    desktop: Device
    phones: list[tuple[int, Device | None, str | None]]  # (from day, phone, episode tag)
    auth: Auth
    start_hour: float
    day_hours: float
    spread: float
    activity: float
    per_day: float
    phone_rate: float
    weekend_rate: float
    office_share: float
    fail_rate: float
    team_admin: bool = False
    joined: int = 0
    plans: dict[int, DayPlan] = field(default_factory=dict)

    def home_on(self, day: int) -> tuple[Network, str, str | None]:
        """The home network, address and the episode that changed it, on `day`."""
        return _latest(self.homes, day)

    def phone_on(self, day: int) -> tuple[Device | None, str | None]:
        """The phone (if any) and the episode that changed it, on `day`."""
        return _latest(self.phones, day)


def _latest(changes: list[tuple], day: int) -> tuple:
    """The value of a (from day, values...) timeline on `day`; a change's tag only for EPISODE_DAYS."""
    current = max((c for c in changes if c[0] <= day), key=lambda c: c[0])
    tag = current[-1] if current[-1] is not None and day < current[0] + EPISODE_DAYS else None
    return (*current[1:-1], tag)


@dataclass
class Attempt:
    """One sign-in attempt: its time, its JSON line, and the label (episode or takeover id) it belongs to."""

    ts: datetime
    row: dict
    tag: str | None = None


@dataclass
class World:
    """Everything generation shares: the random source, the networks, the month, and what was made so far."""

    rng: random.Random
    nets: Networks
    start: date
    days: int
    workspaces: list[Workspace] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)  # users already in an episode or takeover
    own: dict[str, list[Attempt]] | None = None  # users' own successes, indexed once the routine is done

    @property
    def begin(self) -> datetime:
        """The first instant of the month (UTC)."""
        return datetime.combine(self.start, datetime.min.time(), UTC)

    @property
    def end(self) -> datetime:
        """The instant the month ends (UTC, exclusive)."""
        return self.begin + timedelta(days=self.days)


# -- the network table ---------------------------------------------------------------------------
class Networks:
    """Probed networks by (ASN, country), and the enricher's own lookup to draw addresses that locate right."""

    def __init__(self, table: dict[tuple[int, str], Network], geo: GeoLookup):
        self.table, self.geo = table, geo

    def get(self, asn: int, country: str) -> Network | None:
        """The network, or None when probing found no block of it in that country."""
        return self.table.get((asn, country))

    def some(self, keys: Iterable[tuple[int, str]]) -> list[Network]:
        """The networks of these keys that probing found."""
        return [n for n in (self.get(*k) for k in keys) if n is not None]

    def located(self, ip: str) -> tuple[str | None, int | None]:
        """(country, AS number) the enricher gives this address."""
        scope, place = self.geo.resolve(ip)
        return (place.country_iso_code, place.as_number) if scope == "public" and place else (None, None)

    def address(self, net: Network, rng: random.Random, v6: bool = False) -> str:
        """A random address of `net` that geolocates to its country and AS (checked, as the enricher will)."""
        blocks = net.v6 if v6 and net.v6 else net.v4
        for _ in range(20):
            ip = _host(rng.choice(blocks), rng)
            if self.located(ip) == (net.country, net.asn):
                return ip
        raise RuntimeError(f"no address of AS{net.asn} in {net.country} locates there any more")


def _host(block: ipaddress.IPv4Network | ipaddress.IPv6Network, rng: random.Random) -> str:
    """A random host address inside a /24 or /48 block (never its .0 or .255)."""
    if block.version == 4:
        return str(block.network_address + rng.randrange(1, 255))
    return str(block.network_address + rng.randrange(1, 2**80))


def _blocks(
    spans: list, rng: random.Random, bits: int, located: Callable[[str], bool], want: int = 4, tries: int = 80
) -> tuple:
    """Up to `want` /`bits` blocks inside announced `spans` whose random host locates as intended."""
    spans = sorted({s for s in spans if s.prefixlen <= bits})
    found: list = []
    for _ in range(tries if spans else 0):
        span = rng.choice(spans)
        block = ipaddress.ip_network(
            (span.network_address + (rng.randrange(2 ** (bits - span.prefixlen)) << (span.max_prefixlen - bits)), bits)
        )
        if block not in found and located(_host(block, rng)):
            found.append(block)
            if len(found) == want:
                break
    return tuple(found)


def catalog_keys() -> tuple[list[tuple[int, str]], set[tuple[int, str]]]:
    """Every (ASN, country) the generator may use, and the consumer ones (also probed for IPv6)."""
    keys: dict[tuple[int, str], None] = {}
    consumer = set()
    for cc, (_tzs, residential, carriers, offices) in COUNTRIES.items():
        keys.update(dict.fromkeys((asn, cc) for asn in residential + carriers + offices))
        consumer.update((asn, cc) for asn in residential + carriers)
    keys.update(dict.fromkeys(HOSTING + VPN + RESIDENTIAL_PROXY))
    return list(keys), consumer


Prefixes = dict[int, tuple[list, list]]  # ASN -> (IPv4 networks, IPv6 networks) it announces


def announced(reader, asns: Iterable[int]) -> Prefixes:
    """The prefixes each ASN announces, from plevin-db-network: one pass over its prefix table per family.

    plevin's own `routes(asn)` scans the whole table for every ASN (~60 ms each, 6 s for the
    catalog); this reads the same columns once (~1 s). Falls back to `routes` if they moved.
    """
    file, asns = reader.file, sorted(set(asns))
    try:
        links_to = {file.system_row(asn) + 1: asn for asn in asns if file.system_row(asn) >= 0}
        found: Prefixes = {asn: ([], []) for asn in asns}
        for version, bits in ((4, 32), (6, 128)):
            spine, links, lengths = (file.sections[f"spine.v{version}{part}"] for part in ("", ".network", ".prefix"))
            for block in range(links.blocks):
                for row, link in enumerate(links.whole(block), block * links.per_block):
                    if link in links_to:
                        spare = bits - lengths[row]
                        net = ipaddress.ip_network((spine[row] >> spare << spare, lengths[row]))
                        found[links_to[link]][version == 6].append(net)
        return found
    except (AttributeError, KeyError, TypeError):
        routes = {asn: reader.routes(asn) for asn in asns}
        return {
            asn: ([ipaddress.ip_network(s.cidr) for s in r.ipv4], [ipaddress.ip_network(s.cidr) for s in r.ipv6])
            for asn, r in routes.items()
        }


@cache
def network_table() -> Networks:
    """Probe the built-in geoip/ASN data once per process (a few seconds) for blocks of every catalog network."""
    import plevin
    import plevin_db_network

    reader = plevin.Plevin(plevin_db_network.PATH)  # the data file the geoip enricher reads
    nets = Networks({}, GeoLookup([builtin_country_database(), builtin_asn_database()], 1 << 17))
    rng = random.Random(PROBE_SEED)
    keys, consumer = catalog_keys()
    prefixes = announced(reader, (asn for asn, _cc in keys))
    for asn, cc in keys:
        v4_spans, v6_spans = prefixes[asn]
        located = lambda ip, asn=asn, cc=cc: nets.located(ip) == (cc, asn)  # noqa: E731
        v4 = _blocks(v4_spans, rng, 24, located)
        v6 = _blocks(v6_spans, rng, 48, located, want=2, tries=12) if (asn, cc) in consumer else ()
        if v4:
            nets.table[(asn, cc)] = Network(asn, cc, v4, v6)
    missing = [cc for cc in COUNTRIES if not all(nets.some((a, cc) for a in role) for role in COUNTRIES[cc][1:])]
    if missing:
        raise RuntimeError(f"the built-in data has no probed network for some role in {missing}; edit COUNTRIES")
    return nets


# -- small random helpers ------------------------------------------------------------------------
def weighted(rng: random.Random, pairs: Iterable[tuple]):
    """A random first element of (value, weight, ...) tuples, by weight."""
    pairs = list(pairs)
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def token(rng: random.Random, prefix: str, bits: int = 80) -> str:
    """A random id like `sess_3f2a...`."""
    return f"{prefix}_{rng.getrandbits(bits):0{bits // 4}x}"


def iso(ts: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def at_local(day: date, hour: float, tz: str) -> datetime:
    """The UTC instant of wall-clock `hour` (past 24: the next day) on `day` in `tz`, to the millisecond."""
    wall = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
    instant = wall.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def device_key(ua: str) -> tuple:
    """What the device enricher and signin_new_device make of a User-Agent: (type, client, os)."""
    kind, client, _ver, os_name, *_ = classify(ua)
    return kind, client, os_name


def browser(rng: random.Random, table: tuple, name: str, mobile: bool) -> Device:
    """A device with a User-Agent drawn from a (weight, template, versions) table."""
    _w, template, versions = table[rng.choices(range(len(table)), [t[0] for t in table])[0]]
    return Device(name, template.format(v=rng.choice(versions)), mobile)


# -- population ----------------------------------------------------------------------------------
def workspace_sizes(users: int, count: int, rng: random.Random) -> list[int]:
    """Uneven workspace sizes summing to `users`: a Zipf-like law, a few big ones, none below 3."""
    weights = [1 / (rank + 1) ** 0.95 * rng.uniform(0.8, 1.25) for rank in range(count)]
    sizes = [max(3, round(users * w / sum(weights))) for w in weights]
    sizes.sort(reverse=True)
    sizes[0] += users - sum(sizes)
    if sizes[0] < 3:
        raise ValueError(f"{users} users are too few for {count} workspaces (at least 3 each)")
    return sizes


def make_workspace(world: World, index: int, staff: bool) -> Workspace:
    """A workspace with a home country, 1-3 office networks (1-2 egress addresses each) and its policy."""
    rng = world.rng
    name, slug = OUR_COMPANY if staff else (_company(index), "-".join(_company(index).lower().split()))
    country = weighted(rng, WORKSPACE_COUNTRY_WEIGHTS.items())
    tzs, _res, _mob, office_asns = COUNTRIES[country]
    office_nets = world.nets.some((asn, country) for asn in office_asns)
    offices = [
        (net, tuple(world.nets.address(net, rng) for _ in range(rng.randint(1, 2))))
        for net in rng.sample(office_nets, min(len(office_nets), rng.choice((1, 1, 2, 2, 3))))
    ]
    return Workspace(
        id=f"ws-{slug}",
        name=name,
        domain=f"{slug}.example",
        country=country,
        tz=tzs[0],
        sso=not staff and rng.random() < 0.4,
        offices=offices,
        staff=staff,
    )


def _company(index: int) -> str:
    """The index-th company name (numbered once the list runs out)."""
    name = COMPANIES[index % len(COMPANIES)]
    return name if index < len(COMPANIES) else f"{name} {index // len(COMPANIES) + 1}"


def person(rng: random.Random, country: str, domain: str, taken: set[str]) -> str:
    """A first.last@domain e-mail from the country's names, unique in `taken`."""
    first, last = (rng.choice(words.split()) for words in NAMES[LOCALE[country]])
    email, n = f"{first}.{last}@{domain}", 1
    while email in taken:
        n += 1
        email = f"{first}.{last}{n}@{domain}"
    taken.add(email)
    return email


def user_auth(rng: random.Random, ws: Workspace) -> Auth:
    """SSO for SSO workspaces; our staff on security keys; else password + MFA, passkeys for some, a few without."""
    if ws.sso:
        return Auth("sso", False)
    if ws.staff:
        return Auth("password", True, "webauthn")
    roll = rng.random()
    if roll < 0.04:
        return Auth("password", False)
    if roll < 0.09:
        return Auth("passkey", True, "webauthn")
    return Auth("password", True, weighted(rng, MFA_METHODS))


def user_place(rng: random.Random, ws: Workspace) -> tuple[str, str, float]:
    """(country, timezone, office share): mostly at the workspace's HQ, some remote workers elsewhere."""
    if rng.random() < 0.12:
        country = weighted(rng, ((c, w) for c, w in WORKSPACE_COUNTRY_WEIGHTS.items() if c != ws.country))
        return country, rng.choice(COUNTRIES[country][0]), 0.0
    tzs = COUNTRIES[ws.country][0]
    tz = ws.tz if rng.random() < 0.8 else rng.choice(tzs)
    return ws.country, tz, 0.0 if rng.random() < 0.2 or not ws.offices else rng.uniform(0.2, 0.9)


def make_user(world: World, ws: Workspace, taken: set[str], first_in_ws: bool) -> User:
    """One user with a home ISP (re-addressed now and then), a carrier, devices and habits."""
    rng, nets = world.rng, world.nets
    country, tz, office_share = user_place(rng, ws)
    _tzs, residential, carriers, _offices = COUNTRIES[country]
    home = rng.choice(nets.some((a, country) for a in residential))
    v6 = rng.random() < V6_HOME_SHARE
    homes = [(0, home, nets.address(home, rng, v6), None)]
    for day in sorted(rng.sample(range(1, world.days), k=min(world.days - 1, rng.choice((0, 0, 1, 2))))):
        homes.append((day, home, nets.address(home, rng, v6), None))  # the ISP hands out a new address
    phone = browser(rng, PHONE_UAS, "phone", True) if rng.random() < 0.75 else None
    weekend_user = rng.random() < 0.25
    role = rng.choice(STAFF_ROLES) if ws.staff else ("owner" if first_in_ws else weighted(rng, ROLES))
    return User(
        id=token(rng, "usr", 48),
        email=person(rng, country, ws.domain, taken),
        workspace=ws,
        role=role,
        country=country,
        tz=tz,
        homes=homes,
        carrier=rng.choice(nets.some((a, country) for a in carriers)),
        desktop=browser(rng, DESKTOP_UAS, "laptop", False),
        phones=[(0, phone, None)],
        auth=user_auth(rng, ws),
        start_hour=min(11.0, max(6.5, rng.gauss(8.6, 0.8))),
        day_hours=rng.uniform(7.0, 10.0),
        spread=rng.uniform(0.2, 1.2),
        activity=rng.uniform(0.82, 0.98),
        per_day=rng.uniform(2.4, 4.6),
        phone_rate=rng.uniform(0.5, 1.0) if phone else 0.0,
        weekend_rate=rng.uniform(0.25, 0.6) if weekend_user else rng.uniform(0.0, 0.08),
        office_share=office_share,
        fail_rate=rng.uniform(0.02, 0.08) * (0.25 if ws.sso else 1.0),
        team_admin=role in ("owner", "admin"),
    )


def populate(world: World, users: int, workspaces: int) -> None:
    """Workspaces (ours in the middle of the size range) and their users."""
    sizes = workspace_sizes(users, workspaces, world.rng)
    ours = len(sizes) // 2
    taken: set[str] = set()
    for index, size in enumerate(sizes):
        ws = make_workspace(world, index, staff=index == ours)
        world.workspaces.append(ws)
        world.users += [make_user(world, ws, taken, first_in_ws=n == 0) for n in range(size)]


# -- one sign-in ---------------------------------------------------------------------------------
def row(
    user: User,
    ts: datetime,
    ua: str,
    ip: str,
    outcome: str,
    reason: str | None = None,
    auth: Auth | None = None,
    session: str | None = None,
    typed: str | None = None,
) -> dict:
    """The app_signin line of one attempt (every AppSignin field, null when it has no value)."""
    auth = auth or user.auth
    ok = outcome == "success"
    return {
        "timestamp": iso(ts),
        "user": typed or user.email,
        "user_id": None if typed else user.id,
        "workspace": user.workspace.id,
        "outcome": outcome,
        "failure_reason": None if ok else reason,
        "source_ip": ip,
        "user_agent": ua,
        "auth_method": auth.method,
        "mfa_used": ok and auth.mfa_used,
        "mfa_method": auth.mfa_method if ok and auth.mfa_used or reason == "mfa_failed" else None,
        "session_id": session if ok else None,
    }


def mistakes(rng: random.Random, user: User) -> list[str]:
    """Failure reasons before a user's own sign-in: usually none, else a typo or two, a missed push."""
    if rng.random() >= user.fail_rate:
        return []
    if user.auth.method == "sso":
        return ["sso_assertion_expired"]
    if user.auth.mfa_method in ("push", "totp") and rng.random() < 0.25:
        return ["mfa_failed"]
    return ["bad_password"] * weighted(rng, ((1, 80), (2, 15), (3, 5)))


def sign_in(world: World, user: User, ts: datetime, device: Device, ip: str, tag: str | None) -> None:
    """A user's own sign-in at `ts`, after any mistakes (and, rarely, none: they gave up)."""
    rng = world.rng
    reasons = mistakes(rng, user)
    t = ts - timedelta(seconds=sum(rng.uniform(8, 70) for _ in reasons))
    for reason in reasons:
        typed = _typo(rng, user.email) if reason == "bad_password" and rng.random() < 0.08 else None
        world.attempts.append(
            Attempt(t, row(user, t, device.ua, ip, "failure", "unknown_user" if typed else reason, typed=typed), tag)
        )
        t += timedelta(seconds=rng.uniform(8, 70))
    if reasons and rng.random() < 0.06:
        return  # gave up (or reset the password later)
    world.attempts.append(Attempt(ts, row(user, ts, device.ua, ip, "success", session=token(rng, "sess")), tag))


def _typo(rng: random.Random, email: str) -> str:
    """The e-mail with one letter of the local part dropped (an unknown user to the app)."""
    local, _, domain = email.partition("@")
    cut = rng.randrange(len(local))
    return f"{local[:cut]}{local[cut + 1 :]}@{domain}"


# -- the routine ---------------------------------------------------------------------------------
def routine(world: World, user: User) -> None:
    """Every day of the month of one user: workdays, weekends, and the days episodes changed."""
    rng = world.rng
    for day in range(user.joined, world.days):
        plan = user.plans.get(day)
        if plan and plan.skip:
            continue
        local_day = world.start + timedelta(days=day)
        weekday = local_day.weekday() < 5
        if weekday and (rng.random() < user.activity or (plan and plan.force)):
            times = workday_hours(rng, user, plan)
        elif not weekday and rng.random() < user.weekend_rate:
            times = [(h, False) for h in sorted(rng.uniform(9.5, 21.0) for _ in range(rng.choice((1, 1, 2))))]
        else:
            continue
        office_day = weekday and rng.random() < user.office_share
        for hour, on_phone in times + phone_hours(rng, user, day, weekday):
            one_session(world, user, day, local_day, hour, on_phone, office_day or bool(plan and plan.office), plan)


def workday_hours(rng: random.Random, user: User, plan: DayPlan | None) -> list[tuple[float, bool]]:
    """Desktop sign-in hours of a workday: the first near the user's start, the others through the day."""
    start = 20.5 + rng.uniform(-0.5, 1.0) if plan and plan.night else user.start_hour
    length = rng.uniform(4.0, 6.0) if plan and plan.night else user.day_hours
    count = max(1, min(4, round(rng.gauss(user.per_day, 0.8))))
    first = start + rng.gauss(0, user.spread * 0.5)
    rest = sorted(rng.uniform(first + 0.5, start + length) for _ in range(count - 1))
    return [(h, False) for h in [first, *rest]]


def phone_hours(rng: random.Random, user: User, day: int, weekday: bool) -> list[tuple[float, bool]]:
    """Phone sign-in hours of a day: commute, lunch, evening."""
    phone, _tag = user.phone_on(day)
    if phone is None or rng.random() >= user.phone_rate * (1.0 if weekday else 0.6):
        return []
    slots = (rng.uniform(7.0, 8.8), rng.uniform(12.0, 13.8), rng.uniform(18.0, 22.5))
    return [(h, True) for h in sorted(rng.sample(slots, rng.choice((1, 2, 2, 3))))]


def one_session(
    world: World,
    user: User,
    day: int,
    local_day: date,
    hour: float,
    on_phone: bool,
    at_office: bool,
    plan: DayPlan | None,
) -> None:
    """On what and from where one routine sign-in happens, then the sign-in (inside the month only)."""
    phone, phone_tag = user.phone_on(day)
    device = phone if on_phone and phone else user.desktop
    ts = at_local(local_day, hour, plan.tz if plan and plan.tz else user.tz)
    if not world.begin <= ts < world.end:
        return
    working = user.start_hour - 1 <= hour <= user.start_hour + user.day_hours
    ip, tag = place(world, user, day, device, at_office and working, plan)
    sign_in(world, user, ts, device, ip, tag or (phone_tag if device is phone else None))


def place(
    world: World, user: User, day: int, device: Device, at_office: bool, plan: DayPlan | None
) -> tuple[str, str | None]:
    """The source address of a routine sign-in, and the episode that shaped it (if one did)."""
    rng = world.rng
    shaped = plan.tag if plan and (plan.away or plan.night or plan.office) else None
    if device.mobile and (plan and plan.away or rng.random() < 0.55):
        return world.nets.address(user.carrier, rng, v6=rng.random() < V6_SHARE), shaped  # roaming: the carrier
    if plan and plan.away:
        return plan.away[1], shaped
    if plan and plan.vpn and not device.mobile and rng.random() < plan.vpn_share:
        return world.nets.address(plan.vpn, rng), plan.tag
    if at_office and user.workspace.offices:
        return rng.choice(rng.choice(user.workspace.offices)[1]), shaped
    _net, ip, home_tag = user.home_on(day)
    return ip, shaped or home_tag


# -- hard negatives ------------------------------------------------------------------------------
def span(world: World, earliest: int, length: int) -> int:
    """A random first day for an episode of `length` days, from `earliest` (clamped to short months)."""
    low = min(earliest, max(1, world.days - length - 1))
    return world.rng.randint(low, max(low, world.days - length - 1))


def episode(world: World, user: User, kind: str, first: int, last: int, **details) -> dict:
    """Register a benign episode's label (lines are filled in when the file is written)."""
    tag = f"B{sum(1 for lb in world.labels if lb.get('benign')) + 1:02d}"
    label = {
        "id": tag,
        "benign": True,
        "kind": kind,
        "user": user.email,
        "workspace": user.workspace.id,
        "start": iso(world.begin + timedelta(days=first)),
        "end": iso(world.begin + timedelta(days=last + 1)),
        **details,
        "lines": [],
    }
    world.labels.append(label)
    world.busy.add(user.id)
    return label


def business_trip(world: World, user: User) -> None:
    """A few days abroad with the own laptop: hotel networks, the destination's local hours; flights in between."""
    rng = world.rng
    dest = (
        user.workspace.country
        if user.country != user.workspace.country and rng.random() < 0.5
        else weighted(rng, ((c, w) for c, w in WORKSPACE_COUNTRY_WEIGHTS.items() if c != user.country))
    )
    tzs, residential, carriers, offices = COUNTRIES[dest]
    hotel = rng.choice(world.nets.some((a, dest) for a in offices + residential + carriers))  # or tethering
    nights = rng.randint(2, 5)
    depart = span(world, LEARNING_DAYS, nights + 2)
    tag = episode(world, user, "business_trip", depart, depart + nights + 1, country=dest, asn=hotel.asn)["id"]
    user.plans[depart] = user.plans[depart + nights + 1] = DayPlan(tag, skip=True)
    stay = DayPlan(tag, force=True, away=(hotel, world.nets.address(hotel, rng)), tz=tzs[0])
    user.plans.update({day: stay for day in range(depart + 1, depart + nights + 1)})


def new_phone(world: World, user: User) -> None:
    """A new phone of another platform: a new device, from the known home and carrier networks."""
    rng = world.rng
    old, _ = user.phone_on(0)
    while True:
        phone = browser(rng, PHONE_UAS, "phone", True)
        if device_key(phone.ua) != device_key(old.ua):
            break
    day = span(world, LEARNING_DAYS, EPISODE_DAYS)
    tag = episode(world, user, "new_phone", day, day + EPISODE_DAYS - 1, user_agent=phone.ua)["id"]
    user.phones.append((day, phone, tag))
    user.phone_rate = max(user.phone_rate, 0.7)


def late_work(world: World, user: User) -> None:
    """A working week (Monday to Friday) of evening and night work, a deadline: odd hours, everything else known."""
    first = span(world, LEARNING_DAYS, 12)
    first += -(world.start + timedelta(days=first)).weekday() % 7  # the next Monday
    tag = episode(world, user, "late_work", first, first + 4)["id"]
    plan = DayPlan(tag, force=True, night=True)
    user.plans.update({day: plan for day in range(first, first + 5)})


def new_joiner(world: World, user: User) -> None:
    """A user joining mid-month: everything new, but the first days from the workspace's office network."""
    day = span(world, world.days // 3, EPISODE_DAYS + 3)
    user.joined = day
    tag = episode(world, user, "new_joiner", day, day + EPISODE_DAYS - 1)["id"]
    plan = DayPlan(tag, force=True, office=True)
    user.plans.update({d: plan for d in range(day, day + EPISODE_DAYS)})


def vpn_use(world: World, user: User) -> None:
    """One to three weeks of a commercial VPN on most desktop sessions (exit in or near the home country)."""
    rng = world.rng
    vpns = world.nets.some(VPN)
    local = [n for n in vpns if n.country == user.country]
    net = rng.choice(local if local and rng.random() < 0.5 else vpns)
    length = rng.randint(7, 21)
    first = span(world, LEARNING_DAYS - 4, length)
    tag = episode(world, user, "vpn", first, first + length - 1, country=net.country, asn=net.asn)["id"]
    plan = DayPlan(tag, vpn=net, vpn_share=rng.uniform(0.5, 0.95))
    user.plans.update({day: plan for day in range(first, min(world.days, first + length))})


def isp_move(world: World, user: User) -> None:
    """A move to another home ISP in the same country (new ASN, new address)."""
    rng = world.rng
    old, _ip, _tag = user.home_on(world.days)
    choices = [n for n in world.nets.some((a, user.country) for a in COUNTRIES[user.country][1]) if n != old]
    net = rng.choice(choices)
    day = span(world, LEARNING_DAYS, EPISODE_DAYS)
    tag = episode(world, user, "isp_move", day, day + EPISODE_DAYS - 1, asn=net.asn)["id"]
    user.homes = [h for h in user.homes if h[0] < day] + [(day, net, world.nets.address(net, rng), tag)]


# kind: (function, users per 400, who qualifies)
HARD_NEGATIVES: dict[str, tuple[Callable[[World, User], None], int, Callable[[User], bool]]] = {
    "business_trip": (business_trip, 12, lambda u: True),
    "new_phone": (new_phone, 10, lambda u: u.phone_on(0)[0] is not None),
    "late_work": (late_work, 10, lambda u: True),
    "new_joiner": (
        new_joiner,
        8,
        lambda u: u.role != "owner" and u.country == u.workspace.country and bool(u.workspace.offices),
    ),
    "vpn": (vpn_use, 10, lambda u: True),
    "isp_move": (isp_move, 8, lambda u: len(COUNTRIES[u.country][1]) > 1),
}


def pick(world: World, qualifies: Callable[[User], bool]) -> User | None:
    """A random user not yet in an episode or takeover who qualifies (None when none is left)."""
    free = [u for u in world.users if u.id not in world.busy and qualifies(u)]
    return world.rng.choice(free) if free else None


def hard_negatives(world: World) -> None:
    """Schedule every benign episode (counts scale with the number of users)."""
    for make, per_400, qualifies in HARD_NEGATIVES.values():
        for _ in range(max(1, round(per_400 * len(world.users) / 400))):
            user = pick(world, qualifies)
            if user is not None:
                make(world, user)


# -- takeovers -----------------------------------------------------------------------------------
@dataclass
class Intrusion:
    """What the attacker of one takeover signs in with."""

    net: Network
    ip: str
    ua: str
    auth: Auth
    session: str | None = None  # a stolen session id, replayed


def takeover(
    world: World,
    victim: User,
    kind: str,
    first_ts: datetime,
    intrusion: Intrusion,
    failures: list[str],
    gap: tuple[float, float] = (20, 90),
) -> None:
    """The attacker's failures, first success and 1-5 follow-up sign-ins, labelled as one takeover."""
    rng = world.rng
    tag = f"T{sum(1 for lb in world.labels if not lb.get('benign')) + 1:02d}"
    t = first_ts
    for reason in failures:
        world.attempts.append(
            Attempt(
                t, row(victim, t, intrusion.ua, _rotate(world, intrusion), "failure", reason, auth=intrusion.auth), tag
            )
        )
        t += timedelta(seconds=rng.uniform(*gap))
    success_ts = t
    for n in range(1 + rng.randint(1, 5)):
        ip, session = intrusion.ip if n == 0 else _rotate(world, intrusion), intrusion.session or token(rng, "sess")
        world.attempts.append(
            Attempt(t, row(victim, t, intrusion.ua, ip, "success", auth=intrusion.auth, session=session), tag)
        )
        t += timedelta(minutes=rng.uniform(8, 150))
    world.labels.append(
        {
            "id": tag,
            "kind": kind,
            "user": victim.email,
            "user_id": victim.id,
            "workspace": victim.workspace.id,
            "start": iso(first_ts),
            "first_success": iso(success_ts),
            "country": intrusion.net.country,
            "asn": intrusion.net.asn,
            "lines": [],
        }
    )
    world.busy.add(victim.id)


def _rotate(world: World, intrusion: Intrusion) -> str:
    """Mostly the attacker's address, sometimes another one of the same network."""
    return intrusion.ip if world.rng.random() < 0.7 else world.nets.address(intrusion.net, world.rng)


def new_device_ua(rng: random.Random, victim: User, pool: tuple[str, ...] = ATTACKER_BROWSERS) -> str:
    """An attacker User-Agent from `pool` whose device (type, client, OS) the victim never used."""
    known = {device_key(victim.desktop.ua)} | {device_key(p.ua) for _d, p, _t in victim.phones if p}
    return rng.choice([ua for ua in pool if device_key(ua) not in known])


def foreign(world: World, pool: Iterable[tuple[int, str]], victim: User) -> Network:
    """A network of `pool` in another country than the victim's (and not its neighbour)."""
    nets = [n for n in world.nets.some(pool) if not same_or_neighbours(n.country, victim.country)]
    return world.rng.choice(nets)


def attack_time(world: World, victim: User, off_hours: bool) -> datetime:
    """A moment on a day after TAKEOVER_FROM_DAY: in the victim's night, or during their working day."""
    rng = world.rng
    day = world.rng.randint(min(TAKEOVER_FROM_DAY, world.days - 2), world.days - 2)
    hour = rng.uniform(0.5, 5.5) if off_hours else rng.uniform(victim.start_hour, victim.start_hour + victim.day_hours)
    return at_local(world.start + timedelta(days=day), hour, victim.tz)


def credential_stuffing(world: World, victim: User) -> None:
    """A burst of failed passwords from a hosting ASN abroad, then a success (MFA-push fatigue when MFA)."""
    rng = world.rng
    net = foreign(world, HOSTING, victim)
    intrusion = Intrusion(net, world.nets.address(net, rng), new_device_ua(rng, victim, ATTACKER_TOOLS), victim.auth)
    failures = ["bad_password"] * rng.randint(3, 20)
    if victim.auth.mfa_used:
        failures += ["mfa_failed"] * rng.randint(1, 6)
    gap = (1, 6) if rng.random() < 0.5 else (20, 150)  # a fast tool, or a slow one under rate limits
    takeover(
        world, victim, "credential_stuffing", attack_time(world, victim, rng.random() < 0.6), intrusion, failures, gap
    )


def aitm_phishing(world: World, victim: User) -> None:
    """A phishing proxy relays the victim's SSO or MFA sign-in from a residential proxy abroad."""
    rng = world.rng
    net = foreign(world, RESIDENTIAL_PROXY, victim)
    intrusion = Intrusion(net, world.nets.address(net, rng), new_device_ua(rng, victim), victim.auth)
    failures = ["bad_password"] if rng.random() < 0.2 and victim.auth.method != "sso" else []
    takeover(world, victim, "aitm_phishing", attack_time(world, victim, off_hours=False), intrusion, failures)


def own_successes(world: World, victim: User) -> list[Attempt]:
    """The victim's own successful sign-ins from TAKEOVER_FROM_DAY to a day before the month ends."""
    if world.own is None:
        after = world.begin + timedelta(days=min(TAKEOVER_FROM_DAY, world.days - 2))
        world.own = {}
        for a in world.attempts:
            if a.row["outcome"] == "success" and after <= a.ts < world.end - timedelta(days=1):
                world.own.setdefault(a.row["user_id"], []).append(a)
    return world.own.get(victim.id, [])


def session_replay(world: World, victim: User) -> None:
    """The victim's stolen session, replayed from far away minutes after their own sign-in (same User-Agent)."""
    rng = world.rng
    own = own_successes(world, victim)
    seen = rng.choice(own)
    net = foreign(world, HOSTING + VPN + RESIDENTIAL_PROXY, victim)
    auth = Auth(seen.row["auth_method"], seen.row["mfa_used"], seen.row["mfa_method"])
    intrusion = Intrusion(net, world.nets.address(net, rng), seen.row["user_agent"], auth, seen.row["session_id"])
    takeover(world, victim, "session_replay", seen.ts + timedelta(minutes=rng.uniform(3, 40)), intrusion, [])


def quiet_takeover(world: World, victim: User) -> None:
    """Valid credentials used at night from a VPS in the victim's own country, on a new device."""
    rng = world.rng
    local = [n for n in world.nets.some(HOSTING) if n.country == victim.country]
    intrusion = Intrusion(
        net := rng.choice(local), world.nets.address(net, rng), new_device_ua(rng, victim), victim.auth
    )
    failures = ["bad_password"] * rng.choice((0, 0, 0, 1, 2))
    takeover(world, victim, "quiet", attack_time(world, victim, off_hours=True), intrusion, failures)


# kind: (function, who can be its victim)
TAKEOVERS: dict[str, tuple[Callable[[World, User], None], Callable[[World, User], bool]]] = {
    "credential_stuffing": (
        credential_stuffing,
        lambda w, u: u.auth.method == "password" and u.auth.mfa_method in (None, "push"),
    ),
    "aitm_phishing": (aitm_phishing, lambda w, u: u.auth.mfa_method != "webauthn"),
    "session_replay": (session_replay, lambda w, u: bool(own_successes(w, u))),
    "quiet": (quiet_takeover, lambda w, u: any(n.country == u.country for n in w.nets.some(HOSTING))),
}


def add_takeovers(world: World, count: int) -> None:
    """`count` takeovers of distinct victims with history, the kinds taking turns (the next one when none fits)."""
    kinds = list(TAKEOVERS)
    world.rng.shuffle(kinds)
    for n in range(count):
        for kind in kinds[n % len(kinds) :] + kinds[: n % len(kinds)]:
            make, qualifies = TAKEOVERS[kind]
            victim = pick(world, lambda u, q=qualifies: u.joined == 0 and q(world, u))
            if victim is not None:
                make(world, victim)
                break
        else:
            raise ValueError(f"too few users for {count} takeovers besides the hard negatives")


# -- output --------------------------------------------------------------------------------------
def write_signins(world: World, path: Path) -> None:
    """The attempts in time order as JSON lines; each label gets the line numbers of its attempts."""
    by_tag = {label["id"]: label for label in world.labels}
    ordered = sorted(enumerate(world.attempts), key=lambda pair: (pair[1].ts, pair[0]))
    with path.open("w", encoding="utf-8") as out:
        for line, (_seq, attempt) in enumerate(ordered, 1):
            out.write(json.dumps(attempt.row, separators=(",", ":")) + "\n")
            if attempt.tag is not None:
                by_tag[attempt.tag]["lines"].append(line)


def write_labels(world: World, path: Path) -> None:
    """Takeovers then benign episodes, each by start and numbered in that order, one JSON object a line."""
    with path.open("w", encoding="utf-8") as out:
        for benign, prefix in ((False, "T"), (True, "B")):
            labels = sorted((lb for lb in world.labels if bool(lb.get("benign")) == benign), key=lambda lb: lb["start"])
            for n, label in enumerate(labels, 1):
                out.write(json.dumps({**label, "id": f"{prefix}{n:02d}"}, separators=(",", ":")) + "\n")


USER_COLUMNS = ("id", "name", "team", "role", "employee", "team_admin", "mfa_required", "timezone")


def write_users(world: World, path: Path) -> None:
    """The users context table (pipeline/context CSV format); mfa_required is the app-side MFA policy.

    SSO users have it false (the identity provider does their second factor), and so do the few
    password-only users (the exemption that lets them in): signin_without_mfa reads it strictly.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(USER_COLUMNS)
        for u in world.users:
            writer.writerow(
                (
                    u.id,
                    u.email,
                    u.workspace.id,
                    u.role,
                    str(u.workspace.staff).lower(),
                    str(u.team_admin).lower(),
                    str(u.auth.mfa_used).lower(),
                    u.tz,
                )
            )


def summary(world: World, seconds: float) -> dict:
    """Counts of what was generated."""
    rows = [a.row for a in world.attempts]
    failures = sum(r["outcome"] == "failure" for r in rows)
    takeover_labels = [lb for lb in world.labels if not lb.get("benign")]
    return {
        "signins": len(rows),
        "failures": failures,
        "failure_share": round(failures / max(1, len(rows)), 4),
        "users": len(world.users),
        "workspaces": len(world.workspaces),
        "sso_workspaces": sum(ws.sso for ws in world.workspaces),
        "days": world.days,
        "start": world.start.isoformat(),
        "countries": len({u.country for u in world.users}),
        "distinct_ips": len({r["source_ip"] for r in rows}),
        "ipv6_share": round(sum(":" in r["source_ip"] for r in rows) / max(1, len(rows)), 4),
        "takeovers": dict(Counter(lb["kind"] for lb in takeover_labels)),
        "attacker_signins": sum(len(lb["lines"]) for lb in takeover_labels),
        "hard_negatives": dict(Counter(lb["kind"] for lb in world.labels if lb.get("benign"))),
        "seconds": round(seconds, 2),
    }


def render(s: dict, out_dir: Path) -> str:
    """The summary as one paragraph."""
    kinds = ", ".join(f"{n} {k}" for k, n in s["takeovers"].items())
    negatives = ", ".join(f"{n} {k}" for k, n in s["hard_negatives"].items())
    return (
        f"Wrote {s['signins']:,} sign-ins ({s['failures']:,} failed, {s['failure_share']:.1%}; "
        f"{s['distinct_ips']:,} addresses, {s['ipv6_share']:.0%} IPv6) of {s['users']} users in "
        f"{s['workspaces']} workspaces ({s['sso_workspaces']} on SSO) living in {s['countries']} countries, "
        f"over {s['days']} days from {s['start']}, to {out_dir}: {sum(s['takeovers'].values())} takeovers "
        f"({kinds}; {s['attacker_signins']} attacker sign-ins) and "
        f"{sum(s['hard_negatives'].values())} benign hard-negative episodes ({negatives}), in {s['seconds']}s."
    )


def generate(
    out_dir: str | Path,
    users: int = 400,
    workspaces: int = 25,
    days: int = 35,
    takeovers: int = 30,
    seed: int = 7,
    start: date = date(2026, 10, 1),
) -> dict:
    """Generate the month into `out_dir` (signins.jsonl, labels.jsonl, context/users.csv); return the summary."""
    began = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = World(random.Random(seed), network_table(), start, days)
    populate(world, users, workspaces)
    hard_negatives(world)
    for user in world.users:
        routine(world, user)
    add_takeovers(world, takeovers)
    write_signins(world, out / "signins.jsonl")
    write_labels(world, out / "labels.jsonl")
    write_users(world, out / "context" / "users.csv")
    return summary(world, time.perf_counter() - began)


def main(argv: list[str] | None = None) -> None:
    """Command line: generate the month and print its summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--workspaces", type=int, default=25)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--takeovers", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 1))
    args = parser.parse_args(argv)
    if args.days < 12:
        parser.error("--days must be at least 12: takeovers start after day 10")
    result = generate(args.out, args.users, args.workspaces, args.days, args.takeovers, args.seed, args.start)
    print(render(result, args.out))


if __name__ == "__main__":
    main()
