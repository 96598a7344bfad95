"""Subcommands of the ``policysim`` console script, one module per area."""
