"""The Deals board: the pipeline as a table and a chart, and a form that checks a new deal."""

from sdk import Log, ui

from ..deals import PIPELINE, STAGES, by_stage, checked


def render(ctx):
    currency = ctx.settings.get("currency", "EUR")
    large = float(ctx.settings.get("large_deal", 10000))
    total = sum(d["amount"] for d in PIPELINE)
    return [
        ui.Heading(text="Deals board", level=1),
        ui.KeyValue(
            items=[
                ui.KeyValueItem(label="Open deals", value=len(PIPELINE)),
                ui.KeyValueItem(label=f"Pipeline ({currency})", value=f"{total:,.0f}"),
            ]
        ),
        ui.Table(
            columns=[
                ui.Column(key="name", label="Deal"),
                ui.Column(key="stage", label="Stage"),
                ui.Column(key="amount", label=f"Amount ({currency})"),
                ui.Column(key="size", label="Size"),
            ],
            rows=[{**d, "size": "large" if d["amount"] >= large else ""} for d in PIPELINE],
        ),
        ui.Chart(
            title=f"Pipeline by stage ({currency})",
            kind="bar",
            series=[ui.Series(label="amount", points=by_stage())],
        ),
        ui.Section(
            title="Check a new deal",
            children=[
                ui.Form(
                    action="check_deal",
                    fields=[
                        ui.Field(name="name", label="Deal name", required=True),
                        ui.Field(name="amount", label="Amount", type="number", required=True),
                        ui.Field(
                            name="stage",
                            label="Stage",
                            type="select",
                            value="lead",
                            options=[ui.Option(value=s, label=s.title()) for s in STAGES],
                        ),
                    ],
                    submit_label="Check deal",
                ),
            ],
        ),
        ui.Button(label="Reset the pipeline", action="reset_pipeline", tone="danger"),
    ]


def check_deal(ctx, given):
    deal = checked(given)
    Log.info("deal checked", stage=deal["stage"], by=ctx.member.id)
    return f"{deal['name']} looks right: {deal['amount']:,.0f} at {deal['stage']}"


def reset_pipeline(ctx, given):
    Log.info("pipeline reset requested", by=ctx.member.id)
    return "The example pipeline is fixed: nothing to reset"
