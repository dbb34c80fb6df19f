"""The reconciliation tables and their SQL, private to the package."""
