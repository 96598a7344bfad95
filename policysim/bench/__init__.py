"""Benchmarks behind ``policysim bench``: each prints figures, none asserts timings."""
