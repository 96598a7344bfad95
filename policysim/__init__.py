"""policysim: try VPN-registration enforcement rules on traffic before anyone enforces them."""

__version__ = "0.1.0"
