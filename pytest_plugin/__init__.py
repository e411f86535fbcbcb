"""pytest plugin: checks every NetRaven job module's contract (static check + sandboxed dry run)."""
