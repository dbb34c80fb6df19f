"""Bank reconciliation: statements parsed from the banks' formats, matched to the ledger's bank postings,
and a report that ties the statement balance to the ledger balance.

Pure parts: `model` (statement lines as data), `parsing` (camt.053, MT940, CSV, .xlsx), `matching` (the
rules, as data, over lines and postings). `service` runs the commands in the caller's unit of work;
`queries` reads; `store/` is private to the package.
"""
