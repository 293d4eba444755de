"""Linking records of one person across agencies: Splink models over the restricted identifiers,
Bloom-filter encodings for partners who share no identifier in the clear, and the cohort built
from the linked clusters."""
