"""Who is calling: API tokens, roles and the principal a token resolves to.

Domain-neutral: nothing here knows about loans or GraphQL. Tokens are random secrets shown once and
stored only as SHA-256 hashes; creating and revoking one writes an audit event in the same
transaction (through `ledger.store.audit_log`, the one audit trail).

Pure parts: `identity.model`, `identity.errors`. Store and services: `identity.tables`, `identity.service`.
"""
