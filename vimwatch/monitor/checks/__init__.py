"""Checks beside reachability: each VIM type's API check, run at a slower pace than the
probes, and how their results join the reachability status (one status, several checks)."""
