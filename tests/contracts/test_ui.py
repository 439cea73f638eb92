"""The page component tree: what the platform refuses before any console renders it."""

from __future__ import annotations

import pytest

from contracts.ui import MAX_POINTS, MAX_SERIES, UnsafeTree, parse_tree


@pytest.mark.parametrize("action", ["../../../action/uninstall", "a/b", "Save", "", "x?y=1"])
def test_a_button_or_form_action_must_be_an_action_name(action: str) -> None:
    for node in (
        {"type": "button", "label": "Refresh", "action": action},
        {"type": "form", "action": action, "fields": []},
    ):
        with pytest.raises(UnsafeTree) as refused:
            parse_tree(node)
        assert refused.value.path == "tree[0].action"


def test_a_declared_action_name_is_accepted() -> None:
    tree = parse_tree({"type": "button", "label": "Refresh", "action": "refresh_all"})
    assert tree[0].action == "refresh_all"  # type: ignore[union-attr]


def test_charts_are_bounded_in_series_and_points() -> None:
    points = [[i, 1.0] for i in range(MAX_POINTS + 1)]
    with pytest.raises(UnsafeTree) as refused:
        parse_tree({"type": "chart", "title": "t", "series": [{"label": "s", "points": points}]})
    assert refused.value.path == "tree[0].series[0].points"
    many = [{"label": str(i), "points": [[0, 1.0]]} for i in range(MAX_SERIES + 1)]
    with pytest.raises(UnsafeTree):
        parse_tree({"type": "chart", "title": "t", "series": many})
    fine = [{"label": "s", "points": points[:MAX_POINTS]}]
    assert parse_tree({"type": "chart", "title": "t", "series": fine})


@pytest.mark.parametrize(
    "href", ["javascript:alert(1)", "//evil.test/x", "http://a.test", "data:x"]
)
def test_links_are_https_or_console_paths(href: str) -> None:
    with pytest.raises(UnsafeTree):
        parse_tree({"type": "link", "label": "x", "href": href})
