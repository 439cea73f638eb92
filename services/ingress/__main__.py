"""Run the ingress service: `python -m services.ingress`."""

from services.ingress.app import main

main()
