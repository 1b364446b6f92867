"""Web scanning from one client: attack-tool user agents, admin/webshell/secret-file probing, 404 storms.

Three kinds of evidence, per client within the window:
- a user agent naming an attack or scanning tool (sqlmap, nikto, nmap, masscan, zgrab, nuclei,
  wpscan, dirbuster, gobuster, ffuf...): one request is low evidence, `tool_threshold` are medium;
- distinct probe paths: admin panels (`/wp-login.php`, `/phpmyadmin/`), exploit targets
  (`/cgi-bin/`, phpunit's `eval-stdin.php`), secret files (`/.env`, `/.git/config`) and webshell
  names (`/c99.php`, `/cmd.jsp`): `min_probe_paths` of them are medium (one is what a site's own
  admin asks for);
- distinct paths answered 404: `storm_paths` of them are a wordlist run (dirbuster without its name).
A secret file or webshell path answered 2xx is worse (it may be there): one step louder, so a single
`GET /.env 200` is medium and probing that found something is high. A site whose catch-all route
answers 200 for every path makes every probe look found: exempt nothing for it, read `latest` in the
message (the body size tells a real hit from the catch-all page).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from pydantic import Field

from detectors import windows
from detectors.base import Detector, DetectorMeta, Finding, StateSpec
from detectors.rules import _web
from schemas.event import Event

TOOLS = (
    ("sqlmap", r"\bsqlmap\b"),
    ("nikto", r"\bnikto\b"),
    ("nmap", r"\bnmap\b"),
    ("masscan", r"\bmasscan\b"),
    ("zgrab", r"\bzgrab\b"),
    ("nuclei", r"\bnuclei\b"),
    ("wpscan", r"\bwpscan\b"),
    ("dirbuster", r"\bdirbuster\b"),
    ("gobuster", r"\bgobuster\b"),
    ("dirb", r"\bdirb\b"),
    ("ffuf", r"\bffuf\b|fuzz faster u fool"),
    ("wfuzz", r"\bwfuzz\b"),
    ("feroxbuster", r"\bferoxbuster\b"),
    ("acunetix", r"\bacunetix\b"),
    ("netsparker", r"\bnetsparker\b"),
    ("w3af", r"\bw3af\b"),
    ("openvas", r"\bopenvas\b"),
    ("nessus", r"\bnessus\b"),
    ("zap", r"\bzaproxy\b|\bowasp zap\b"),
    ("arachni", r"\barachni\b"),
    ("skipfish", r"\bskipfish\b"),
    ("whatweb", r"\bwhatweb\b"),
    ("commix", r"\bcommix\b"),
    ("hydra", r"\bhydra\b"),
    ("jorgee", r"\bjorgee\b"),
    ("havij", r"\bhavij\b"),
    ("fimap", r"\bfimap\b"),
    ("xsstrike", r"\bxsstrike\b"),
)
PROBES = (
    (
        "admin_panel",
        r"(?:^|/)(?:wp-login\.php|wp-admin/|xmlrpc\.php|phpmyadmin|myadmin/|pma/|adminer[\w.-]*\.php|"
        r"administrator/index\.php|manager/html|jmx-console|web-console|solr/admin|"
        r"actuator/(?:env|heapdump|gateway|jolokia)|console/login)",
    ),
    (
        "exploit_path",
        r"(?:^|/)(?:cgi-bin/|boaform/|hnap1|vendor/phpunit/|\+cscoe\+/|remote/fgt_lang|gponform/|"
        r"setup\.cgi|shell\?|wls-wsat/|_ignition/execute-solution|invoker/jmxinvokerservlet)",
    ),
    (
        "secret_file",
        r"(?:^|/)(?:\.env(?:\.\w+)?$|\.git/(?:config|head|index)$|\.svn/(?:entries|wc\.db)$|\.hg/|"
        r"\.ds_store$|\.aws/credentials$|\.ssh/(?:id_rsa|id_ed25519|authorized_keys)$|\.htpasswd$|"
        r"wp-config\.php(?:\.\w+|~)$|config\.php(?:\.bak|\.old|~)$|"
        r"(?:backup|dump|db|database|site)\.(?:sql|sql\.gz|tar\.gz|zip)$|phpinfo\.php$|id_rsa$)",
    ),
    (
        "webshell",
        r"(?:^|/)(?:c99|r57|wso|b374k|alfa|shell|cmd|webshell|uploader|xleet|indoxploit|regeorg|tunnel)"
        r"\.(?:php\d?|phtml|jspx?|aspx?|cfm)$",
    ),
)
FOUND_WHEN_2XX = frozenset({"secret_file", "webshell"})  # a 2xx on an admin page is the site working
TOOL_MATCHER = _web.PatternSet(TOOLS)
PROBE_MATCHER = _web.PatternSet(PROBES)
TOOL_NAMES = frozenset(name for name, _ in TOOLS)
PROBE_NAMES = frozenset(name for name, _ in PROBES)

META = DetectorMeta(
    id="web_scanner",
    title="Web scanning from one client",
    description="Attack-tool user agents, probing of admin, exploit, secret-file and webshell paths, and "
    "storms of 404s from one client within the window; a secret file or webshell answered "
    "2xx raises the severity.",
    version=1,
    severity="medium",
    maturity="experimental",
    datasets=(_web.DATASET,),
    state=StateSpec(kind="sliding_window", key=("source.ip",), window=timedelta(minutes=10)),
    tags=(
        "attack.reconnaissance",
        "attack.t1595",
        "attack.t1595.002",
        "attack.t1595.003",
        "attack.persistence",
        "attack.t1505.003",
    ),
    dedup_period=timedelta(hours=1),
)


class Params(_web.WebParams):
    """How much scanning evidence within the window is medium."""

    tool_threshold: int = Field(10, ge=1, description="Requests with an attack-tool user agent that are medium.")
    min_probe_paths: int = Field(
        5, ge=1, description="Distinct probe paths (admin, exploit, secret, webshell) that are medium."
    )
    storm_paths: int = Field(50, ge=2, description="Distinct paths answered 404 that are a wordlist run (medium).")


def signals(event: Event) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(tools named by the user agent, probe classes of the path, answered 404)."""
    agent = event.user_agent.original if event.user_agent else None
    tools = TOOL_MATCHER.names((agent[: _web.MAX_INSPECT].lower(),)) if agent else ()
    path = event.url.path if event.url else None
    probes = PROBE_MATCHER.names(_web.forms(path)) if path else ()
    return tools, probes, _web.status(event) == 404


def key(event: Event) -> str | None:
    """The client of requests with any scanning evidence (tool, probe path or 404)."""
    address = _web.source_address(event)
    return address if address and any(signals(event)) else None


def _item(event: Event, tools: tuple[str, ...], probes: tuple[str, ...], not_found: bool) -> str:
    """`<event id> <status> <flags> <path digest> <names>`: t(ool), p(robe), n(ot found)."""
    flags = ("t" if tools else "") + ("p" if probes else "") + ("n" if not_found else "")
    return f"{event.event.id} {_web.status(event)} {flags} {_web.path_digest(event)} {','.join(tools + probes) or '-'}"


def step(state, event: Event, params: Params):
    """Add the request's evidence to the client's window; report when the evidence gets louder."""
    tools, probes, not_found = signals(event)
    if not (tools or probes or not_found) or _web.exempt(event, params):
        return state, []
    kept = dict(state) if state else {}
    kept["w"] = windows.add(
        state, event.timestamp.timestamp(), _item(event, tools, probes, not_found), params.window_seconds
    )["w"]
    items = [item.split(" ") for item in windows.items(kept)]
    tool_hits = Counter(n for _, _, f, _, names in items if "t" in f for n in names.split(",") if n in TOOL_NAMES)
    probe_paths = {d for _, _, f, d, _ in items if "p" in f}
    missing = {d for _, _, f, d, _ in items if "n" in f}
    found = sum(
        1
        for _, c, f, _, names in items
        if "p" in f and _web.is_success(int(c)) and FOUND_WHEN_2XX.intersection(names.split(","))
    )
    severity = _severity(sum(tool_hits.values()), len(probe_paths), len(missing), found, params)
    evidence = sum(tool_hits.values()) + len(probe_paths) + len(missing)
    new = _web.report(kept, severity, evidence, event.timestamp.timestamp(), META.dedup_period.total_seconds())
    if new is None:
        return kept, []
    parts = [f"tool {', '.join(sorted(tool_hits))} ({sum(tool_hits.values())} request(s))"] if tool_hits else []
    if probe_paths:
        classes = sorted({n for _, _, f, _, names in items if "p" in f for n in names.split(",") if n in PROBE_NAMES})
        parts.append(f"{len(probe_paths)} probe path(s) ({', '.join(classes)}), {found} found (2xx)")
    if missing:
        parts.append(f"{len(missing)} distinct path(s) not found")
    finding = Finding(
        message=f"web scanning from {_web.source_address(event)} within {params.window_seconds}s: {'; '.join(parts)}; "
        f"latest: {_web.shown(_web.target(event))} -> {_web.status(event)}",
        entity=_web.entity(event),
        timestamp=event.timestamp,
        event_ids=tuple(eid for eid, *_ in items[-new:]),
        datasets=(event.event.dataset,),
        severity=severity,  # type: ignore[arg-type]
    )
    return kept, [finding]


def _severity(tool_requests: int, probe_paths: int, missing: int, found: int, params: Params) -> str | None:
    """low: a tool named; medium: a tool used a lot, probing or a 404 storm; one louder when something was found."""
    severity = "low" if tool_requests else None
    if tool_requests >= params.tool_threshold or probe_paths >= params.min_probe_paths or missing >= params.storm_paths:
        severity = "medium"
    if found:
        severity = _web.bump(severity or "low")
    return severity


DETECTOR = Detector(meta=META, params=Params, step=step, key=key, ttl=lambda params: params.window_seconds)
