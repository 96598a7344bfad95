"""The policy language: YAML files to a typed AST, static analysis and ``tests:`` runs."""

from policysim.policies.language.ast import Policy
from policysim.policies.language.parser import PolicyError, load_policy, parse_policy
from policysim.policies.problems import Position, Problem

__all__ = ["Policy", "PolicyError", "Position", "Problem", "load_policy", "parse_policy"]
