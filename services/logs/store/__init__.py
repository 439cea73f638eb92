"""The logs service's storage: ClickHouse tables (lines, audit, health, records, secret reads)
and Redis (alert destinations, rules and delivery state)."""
