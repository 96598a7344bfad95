"""The bundled example policies, registry and sets, findable wherever the package is installed."""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).parent

# The deadline policy is enforced; the strict, lenient and wide variants run as its shadows.
DEFAULT_POLICIES = (
    "pta-vpn-2024.yaml",
    "pta-vpn-strict.yaml",
    "pta-vpn-lenient.yaml",
    "pta-vpn-wide.yaml",
)


def example_paths(names: tuple[str, ...] = DEFAULT_POLICIES) -> list[str]:
    """Paths of bundled policy files, by file name (the default trio when none are named)."""
    return [str(EXAMPLES_DIR / name) for name in names]
