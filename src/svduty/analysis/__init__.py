"""Analyses for the Strategic Needs Assessment: pure functions over the canonical tables (Ibis,
so on either engine) returning typed results that record how they were made. None of them draws."""
