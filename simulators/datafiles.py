"""Where the shared real data lives, and the synthetic stand-ins used when it does not.

``settings.data_dir`` is resolved against the repository root (not the
current directory) so that a command behaves the same wherever it is run.
The fallbacks are small, fixed and documented (README, Simulators): Pakistan's
subscriber space falls back to a handful of well-known PK allocations, VPN
endpoints to addresses in the documentation ranges, so a scenario still runs
on a machine without the shared data, just with a less realistic address mix.
"""

from __future__ import annotations

import logging
from pathlib import Path

from policysim.base.settings import Settings

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]

# A few real Pakistani allocations (PTCL, Jazz, Zong, Nayatel, ...) standing in for the full list.
FALLBACK_PK_IPV4: tuple[str, ...] = (
    "39.32.0.0/11",
    "111.119.160.0/19",
    "119.152.0.0/13",
    "182.176.0.0/12",
    "202.163.64.0/18",
    "203.99.48.0/20",
)
FALLBACK_PK_IPV6: tuple[str, ...] = ("2400:adc0::/32", "2400:fc00::/32", "2407:aa80::/32")

# Documentation and benchmarking ranges (RFC 5737, RFC 2544, RFC 3849): never real servers.
FALLBACK_VPN_ENDPOINTS: tuple[str, ...] = tuple(
    [f"198.51.100.{i}" for i in range(1, 65)]
    + [f"203.0.113.{i}" for i in range(1, 65)]
    + [f"198.18.0.{i}" for i in range(1, 33)]
    + [f"2001:db8:7e::{i:x}" for i in range(1, 17)]
)


def data_dir(settings: Settings) -> Path:
    """``settings.data_dir`` as an absolute path (relative paths start at the repo root)."""
    path = Path(settings.data_dir).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def _read_list(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        lines = (line.partition("#")[0].strip() for line in handle)
        return [line for line in lines if line]


def subscriber_cidrs(settings: Settings) -> tuple[list[str], str]:
    """Pakistan's IPv4 and IPv6 CIDRs and where they came from (a path or ``fallback``)."""
    folder = data_dir(settings) / "cidr"
    v4, v6 = folder / "pk-ipv4.cidr", folder / "pk-ipv6.cidr"
    if v4.is_file() and v6.is_file():
        return _read_list(v4) + _read_list(v6), str(folder)
    log.warning("no %s: using the built-in fallback subscriber space", v4)
    return [*FALLBACK_PK_IPV4, *FALLBACK_PK_IPV6], "fallback"


def vpn_endpoints(settings: Settings) -> tuple[list[str], str]:
    """Commercial VPN providers' server addresses (sorted, de-duplicated) and their origin."""
    folder = data_dir(settings) / "cidr" / "vpn-providers"
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if files:
        addresses = sorted({a for f in files for a in _read_list(f)})
        return addresses, str(folder)
    log.warning("no %s: using the built-in fallback VPN endpoints", folder)
    return list(FALLBACK_VPN_ENDPOINTS), "fallback"
