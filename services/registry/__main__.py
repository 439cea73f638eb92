"""Run the registry service: `python -m services.registry`."""

from services.registry.app import main

main()
