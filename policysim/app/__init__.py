"""The use cases: what a command does, apart from how it is asked for."""
