"""AIME benchmark suite (see docs/benchmarks.md)."""
