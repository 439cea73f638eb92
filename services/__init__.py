"""The five services of the extensions platform, each runnable as `python -m services.<name>`."""
