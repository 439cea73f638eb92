"""Run the sync service: `python -m services.sync`."""

from services.sync.app import main

main()
