"""Measures over time and between areas: statistical process control charts (Making Data Count)
and funnel plots (UKHSA Fingertips methods). Each takes a small CSV a user prepares."""
