"""A stream whose fetch returns pages of the wrong shape, chosen by the cursor."""


def fetch(ctx, cursor):
    if cursor == "no-id":
        return {"records": [{"title": "anonymous", "updated": 1}], "next_cursor": None}
    if cursor == "not-a-list":
        return {"records": "oops"}
    return ["not", "a", "page"]
