"""Benchmarks: each prints its figures and a ratio against an in-run baseline."""
