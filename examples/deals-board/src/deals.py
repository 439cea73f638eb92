"""The example's data and rules, shared by its route, page and panel.

A real extension would read deals from Backfill's entities; the example keeps a fixed
pipeline so that it runs anywhere, and keeps its one rule (what a valid deal is) in one place.
"""

from sdk import ValidationError, ValidationErrors

STAGES = ("lead", "qualified", "proposal", "won")
PIPELINE = [
    {"id": "d_101", "name": "Acme renewal", "stage": "proposal", "amount": 18000},
    {"id": "d_102", "name": "Globex pilot", "stage": "qualified", "amount": 6500},
    {"id": "d_103", "name": "Initech upsell", "stage": "lead", "amount": 2400},
    {"id": "d_104", "name": "Umbrella expansion", "stage": "won", "amount": 42000},
]


def find(deal_id):
    return next((deal for deal in PIPELINE if deal["id"] == deal_id), None)


def by_stage():
    return [(stage, sum(d["amount"] for d in PIPELINE if d["stage"] == stage)) for stage in STAGES]


def checked(given):
    """A deal as submitted, or ValidationErrors naming each bad field."""
    errors = []
    name = str(given.get("name") or "").strip()
    if len(name) < 3:
        errors.append(ValidationError("name", "Give the deal a name of at least 3 characters"))
    try:
        amount = float(given.get("amount") or "")
    except ValueError:
        amount = -1.0
    if amount <= 0:
        errors.append(ValidationError("amount", "The amount must be a number above zero"))
    stage = given.get("stage")
    if stage not in STAGES:
        errors.append(ValidationError("stage", f"Pick one of {', '.join(STAGES)}"))
    if errors:
        raise ValidationErrors(errors)
    return {"name": name, "amount": amount, "stage": stage}
