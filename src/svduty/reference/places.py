"""The places a workspace knows, for checking the names and codes people type."""

from __future__ import annotations

import pandas as pd

from svduty.engine import Store


def places(store: Store) -> pd.DataFrame:
    """Each LSOA of the workspace's areas table with its district (code and name), CSP and
    force: small enough (about 36,000 rows) to hold in memory."""
    areas = store.table("areas").select("lsoa_code", "la_code", "la_name", "csp_name", "force")
    return areas.to_pandas()
