"""Applies the status changes the monitors report."""
