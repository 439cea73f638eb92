"""The `backfill` command: `up` runs the suite locally; the rest serve extension developers."""
