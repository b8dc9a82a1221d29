"""Benchmarks of the MCAE engine on the real data of ``../shared/data`` (see README.md)."""
