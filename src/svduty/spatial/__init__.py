"""Spatial analysis in British National Grid metres: grids, Gi*, KDE, emerging hotspots,
near repeats and maps."""
