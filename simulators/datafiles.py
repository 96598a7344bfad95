"""Where the real address lists come from: the shared data folder, else the bundled copy.

``settings.data_dir`` is resolved against the repository root (not the
current directory) so that a command behaves the same wherever it is run.
When that folder holds ``cidr/`` lists, they are used; otherwise the copy
bundled with the package (``data/cidr/``, CC0 lists, source and license in
``data/README.md``), so an installed policysim runs a scenario on Pakistan's
real allocations and real VPN servers with nothing beside it.
"""

from __future__ import annotations

from pathlib import Path

from policysim.base.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_CIDR = Path(__file__).resolve().parent / "data" / "cidr"


def data_dir(settings: Settings) -> Path:
    """``settings.data_dir`` as an absolute path (relative paths start at the repo root)."""
    path = Path(settings.data_dir).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def _read_list(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        lines = (line.partition("#")[0].strip() for line in handle)
        return [line for line in lines if line]


def subscriber_cidrs(settings: Settings) -> tuple[list[str], str]:
    """Pakistan's IPv4 and IPv6 CIDRs and the folder they were read from."""
    folder = data_dir(settings) / "cidr"
    if not ((folder / "pk-ipv4.cidr").is_file() and (folder / "pk-ipv6.cidr").is_file()):
        folder = BUNDLED_CIDR
    return _read_list(folder / "pk-ipv4.cidr") + _read_list(folder / "pk-ipv6.cidr"), str(folder)


def vpn_endpoints(settings: Settings) -> tuple[list[str], str]:
    """Commercial VPN providers' server addresses (sorted, de-duplicated) and their folder."""
    folder = data_dir(settings) / "cidr" / "vpn-providers"
    if not list(folder.glob("*.txt")):
        folder = BUNDLED_CIDR / "vpn-providers"
    addresses = sorted({a for f in sorted(folder.glob("*.txt")) for a in _read_list(f)})
    return addresses, str(folder)
