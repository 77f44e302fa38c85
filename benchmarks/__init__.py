"""Benchmarks of digipix_async against its peers (see README.md); not part of the package."""
