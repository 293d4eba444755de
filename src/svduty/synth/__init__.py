"""Synthetic partner data with the structure of the real thing, calibrated to real aggregates."""
