"""What every domain's API shares: scalars and ids, typed errors, permissions, inputs, idempotency,
threads, DataLoaders, document cache and executor; and the root fields of no domain (CoreQuery)."""
