"""HTTP answers one service reads from another, declared once (the console decodes with them).

The service that answers encodes with these Structs (its routes return them) and the service
that reads decodes with them: a field renamed here is renamed for both, and
tests/console/test_answers.py fails when a service's API no longer answers what is declared.
Evolve like topic messages: add fields with defaults; never rename or retype one.
"""
