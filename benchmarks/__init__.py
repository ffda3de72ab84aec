"""Benchmarks of sklearn-daml, run by hand: ``python -m benchmarks speed``."""
