"""Geography for the travel detectors: great-circle distance, internal addresses, land neighbours."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)

# Addresses that never locate a person: RFC 1918, carrier-grade NAT, unique-local, loopback,
# link-local. Listed explicitly because `ipaddress.is_private` also covers the documentation
# ranges (192.0.2.0/24, 2001:db8::/32...), which are routable for our purposes (tests, examples).
INTERNAL_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
        "::/128",
    )
)

# Land borders by ISO 3166 alpha-2 code, both directions written out (a test checks symmetry).
# XK = Kosovo and GF = French Guiana as GeoIP databases report them.
_BORDERS = """
AD:ES,FR AE:OM,SA AF:CN,IR,PK,TJ,TM,UZ AL:GR,ME,MK,XK AM:AZ,GE,IR,TR AO:CD,CG,NA,ZM
AR:BO,BR,CL,PY,UY AT:CH,CZ,DE,HU,IT,LI,SI,SK AZ:AM,GE,IR,RU,TR BA:HR,ME,RS BD:IN,MM
BE:DE,FR,LU,NL BF:BJ,CI,GH,ML,NE,TG BG:GR,MK,RO,RS,TR BI:CD,RW,TZ BJ:BF,NE,NG,TG BN:MY
BO:AR,BR,CL,PE,PY BR:AR,BO,CO,GF,GY,PE,PY,SR,UY,VE BT:CN,IN BW:NA,ZA,ZM,ZW BY:LT,LV,PL,RU,UA
BZ:GT,MX CA:US CD:AO,BI,CF,CG,RW,SS,TZ,UG,ZM CF:CD,CG,CM,SD,SS,TD CG:AO,CD,CF,CM,GA
CH:AT,DE,FR,IT,LI CI:BF,GH,GN,LR,ML CL:AR,BO,PE CM:CF,CG,GA,GQ,NG,TD
CN:AF,BT,HK,IN,KG,KP,KZ,LA,MM,MN,MO,NP,PK,RU,TJ,VN CO:BR,EC,PA,PE,VE CR:NI,PA
CZ:AT,DE,PL,SK DE:AT,BE,CH,CZ,DK,FR,LU,NL,PL DJ:ER,ET,SO DK:DE DO:HT DZ:EH,LY,MA,ML,MR,NE,TN
EC:CO,PE EE:LV,RU EG:IL,LY,PS,SD EH:DZ,MA,MR ER:DJ,ET,SD ES:AD,FR,GI,MA,PT ET:DJ,ER,KE,SD,SO,SS
FI:NO,RU,SE FR:AD,BE,CH,DE,ES,IT,LU,MC GA:CG,CM,GQ GB:IE GE:AM,AZ,RU,TR GF:BR,SR GH:BF,CI,TG
GI:ES GM:SN GN:CI,GW,LR,ML,SL,SN GQ:CM,GA GR:AL,BG,MK,TR GT:BZ,HN,MX,SV GW:GN,SN GY:BR,SR,VE
HK:CN HN:GT,NI,SV HR:BA,HU,ME,RS,SI HT:DO HU:AT,HR,RO,RS,SI,SK,UA ID:MY,PG,TL IE:GB
IL:EG,JO,LB,PS,SY IN:BD,BT,CN,MM,NP,PK IQ:IR,JO,KW,SA,SY,TR IR:AF,AM,AZ,IQ,PK,TM,TR
IT:AT,CH,FR,SI,SM,VA JO:IL,IQ,PS,SA,SY KE:ET,SO,SS,TZ,UG KG:CN,KZ,TJ,UZ KH:LA,TH,VN
KP:CN,KR,RU KR:KP KW:IQ,SA KZ:CN,KG,RU,TM,UZ LA:CN,KH,MM,TH,VN LB:IL,SY LI:AT,CH LR:CI,GN,SL
LS:ZA LT:BY,LV,PL,RU LU:BE,DE,FR LV:BY,EE,LT,RU LY:DZ,EG,NE,SD,TD,TN MA:DZ,EH,ES MC:FR MD:RO,UA
ME:AL,BA,HR,RS,XK MK:AL,BG,GR,RS,XK ML:BF,CI,DZ,GN,MR,NE,SN MM:BD,CN,IN,LA,TH MN:CN,RU MO:CN
MR:DZ,EH,ML,SN MW:MZ,TZ,ZM MX:BZ,GT,US MY:BN,ID,TH MZ:MW,SZ,TZ,ZA,ZM,ZW NA:AO,BW,ZA,ZM
NE:BF,BJ,DZ,LY,ML,NG,TD NG:BJ,CM,NE,TD NI:CR,HN NL:BE,DE NO:FI,RU,SE NP:CN,IN OM:AE,SA,YE
PA:CO,CR PE:BO,BR,CL,CO,EC PG:ID PK:AF,CN,IN,IR PL:BY,CZ,DE,LT,RU,SK,UA PS:EG,IL,JO PT:ES PY:AR,BO,BR
QA:SA RO:BG,HU,MD,RS,UA RS:BA,BG,HR,HU,ME,MK,RO,XK RU:AZ,BY,CN,EE,FI,GE,KP,KZ,LT,LV,MN,NO,PL,UA
RW:BI,CD,TZ,UG SA:AE,IQ,JO,KW,OM,QA,YE SD:CF,EG,ER,ET,LY,SS,TD SE:FI,NO SI:AT,HR,HU,IT
SK:AT,CZ,HU,PL,UA SL:GN,LR SM:IT SN:GM,GN,GW,ML,MR SO:DJ,ET,KE SR:BR,GF,GY SS:CD,CF,ET,KE,SD,UG
SV:GT,HN SY:IL,IQ,JO,LB,TR SZ:MZ,ZA TD:CF,CM,LY,NE,NG,SD TG:BF,BJ,GH TH:KH,LA,MM,MY TJ:AF,CN,KG,UZ
TL:ID TM:AF,IR,KZ,UZ TN:DZ,LY TR:AM,AZ,BG,GE,GR,IQ,IR,SY TZ:BI,CD,KE,MW,MZ,RW,UG,ZM
UA:BY,HU,MD,PL,RO,RU,SK UG:CD,KE,RW,SS,TZ US:CA,MX UY:AR,BR UZ:AF,KG,KZ,TJ,TM VA:IT VE:BR,CO,GY
VN:CN,KH,LA XK:AL,ME,MK,RS YE:OM,SA ZA:BW,LS,MZ,NA,SZ,ZW ZM:AO,BW,CD,MW,MZ,NA,TZ,ZW ZW:BW,MZ,ZA,ZM
"""
NEIGHBOURS: dict[str, frozenset[str]] = {
    code: frozenset(others.split(",")) for code, others in (entry.split(":") for entry in _BORDERS.split())
}


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points (haversine; < 0.5 % off the ellipsoid)."""
    phi1, phi2 = radians(lat1), radians(lat2)
    a = sin((phi2 - phi1) / 2) ** 2 + cos(phi1) * cos(phi2) * sin(radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))


@lru_cache(maxsize=16384)
def is_internal(ip: str) -> bool:
    """True for private, CGNAT, loopback and link-local addresses: they say nothing about a place."""
    addr = ipaddress.ip_address(ip)
    return any(addr.version == net.version and addr in net for net in INTERNAL_NETS)


def same_or_neighbours(a: str, b: str) -> bool:
    """True when two ISO country codes are the same country or share a land border."""
    a, b = a.upper(), b.upper()
    return a == b or b in NEIGHBOURS.get(a, ())
