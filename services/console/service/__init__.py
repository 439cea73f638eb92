"""Decisions of the console: page contexts and actions, free of Litestar."""
