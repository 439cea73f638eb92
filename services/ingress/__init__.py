"""The ingress service: per-installation webhook URLs, verification, canonical ingest.

Verify, persist the raw delivery, run the connector's handler, dedupe and publish records.
"""
