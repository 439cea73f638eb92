"""The overview panel: the pipeline in two numbers and a link to the board."""

from sdk import ui

from ..deals import PIPELINE


def render(ctx):
    won = sum(d["amount"] for d in PIPELINE if d["stage"] == "won")
    return [
        ui.KeyValue(
            items=[
                ui.KeyValueItem(label="Deals", value=len(PIPELINE)),
                ui.KeyValueItem(label="Won", value=f"{won:,.0f}"),
            ]
        ),
        ui.Link(label="Open the board", href=f"/installations/{ctx.installation_id}/pages/board"),
    ]
