"""Alerts: rules evaluated on the consumed topics, signed deliveries to the user's URL."""
