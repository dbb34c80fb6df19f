"""Manual journal entries under maker-checker: a person submits an entry, another person approves it.

Nothing reaches the journal until a checker who is not the maker approves the request; approval
posts through `ledger.service.post_entry`, the one path into the journal.
"""
