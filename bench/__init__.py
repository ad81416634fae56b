"""Benchmarks: latency, AWS requests, frames and cost per turn; cold starts; package sizes (make bench)."""
