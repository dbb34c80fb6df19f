"""Financial and portfolio reports as of any date and as known at any moment (see docs/auditors.md)."""
