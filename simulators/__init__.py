"""Event sources: the synthetic population, log replay and the rate-controlled load generator."""
