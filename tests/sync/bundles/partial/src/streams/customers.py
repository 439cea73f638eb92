"""Three customers; on the first read two are 400 KB and the third larger than Kafka takes."""

from sdk import Page

READS = {"count": 0}
LARGE, TOO_LARGE = 400_000, 2 * 1024 * 1024


async def fetch(ctx, cursor):
    READS["count"] += 1
    pads = [LARGE, LARGE, TOO_LARGE] if READS["count"] == 1 else [0, 0, 0]
    records = [
        {"id": f"cus_{i}", "created": 1_700_000_000 + i, "pad": "x" * pad}
        for i, pad in enumerate(pads)
    ]
    return Page(records=records, next_cursor="done", has_more=False)
