"""The logs service: extension logs, stream status and audit events; query and tail APIs."""
