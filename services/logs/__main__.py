"""Run the logs service: `python -m services.logs`."""

from services.logs.app import main

main()
