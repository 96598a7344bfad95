"""The policy language: YAML files to a typed AST, static analysis and ``tests:`` runs."""

from policysim.policies.language.ast import Policy
from policysim.policies.language.errors import PolicyError, Position, Problem
from policysim.policies.language.parser import load_policy, parse_policy

__all__ = ["Policy", "PolicyError", "Position", "Problem", "load_policy", "parse_policy"]
