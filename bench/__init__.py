"""Benchmarks of vimwatch against its performance targets (issue 6); see bench/README.md."""
