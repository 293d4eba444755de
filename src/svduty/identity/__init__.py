"""Identity at ingest: who a record is about, kept apart from what happened.

A partner's extract may carry identifiers (names, date of birth, postcode, NHS number...). They
never reach the analytic tables: each is normalised (`normalise`), the chosen ones are combined
into a pseudonymous person key with a keyed hash (`keys`), and the identifiers themselves go to
the workspace's restricted store (`svduty.identifiers`). With one partnership key held by every
agency, the same person gets the same key in every agency's extract and every workspace.

Later steps build on these pieces: probabilistic linkage reads the normalised identifiers from
the restricted store, and Bloom-filter encodings use the same normalisation and key.
"""
