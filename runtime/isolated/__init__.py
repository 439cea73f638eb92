"""Extension code out of the service process: a pool of locked-down workers (see invoker.py)."""
