"""Benchmarks: they print numbers and assert nothing. See README.md for the latest figures."""
