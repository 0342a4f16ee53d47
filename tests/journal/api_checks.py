"""Checks the journal's API tests share: a field's validation problem, an unknown list
parameter, and a list read page by page."""

from __future__ import annotations


def assert_field_error(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation"
    assert any(name == field or name.startswith(field + ".") for name in body["errors"]), body


def assert_unknown_parameter(response) -> None:
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_parameter"
    assert set(response.json()["errors"]) == {"query"}


def ids_page_by_page(client, url: str, limit: int) -> list[str]:
    """The ids of a list read `limit` at a time, following `next` to the end."""
    seen = []
    response = client.get(url, {"limit": limit})
    while True:
        page = response.json()
        assert len(page["results"]) <= limit
        seen += [item["id"] for item in page["results"]]
        if not page["next"]:
            break
        response = client.get(page["next"])
    return seen
