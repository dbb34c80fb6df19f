"""Composition root: settings, database engine, migrations and the `loanbook` CLI."""
