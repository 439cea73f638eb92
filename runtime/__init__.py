"""The runtime that executes extension code with exactly the permissions its manifest grants."""
