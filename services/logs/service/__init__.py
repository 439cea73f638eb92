"""Decisions of the logs service: filters, batching, tail fan-out, reports, alerts.

Imports neither Litestar nor FastStream: routes and subscribers translate into these calls.
"""
