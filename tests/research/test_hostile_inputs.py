"""Inputs a hostile or careless client sends: answered 400 naming the field, never 500."""

from __future__ import annotations

from tests.graph.test_response_schema_bounds import doubling_chain


async def test_hostile_response_schemas_answer_400_naming_the_keyword(idle_api, idle_funded):
    cases = [
        (doubling_chain(18), "$ref"),
        (
            {
                "type": "object",
                "properties": {
                    "x": {
                        "type": "array",
                        "minItems": 1_000_000_000,
                        "items": {"type": "string", "minLength": 1_000_000},
                    }
                },
            },
            "minItems",
        ),
        ({"type": "object", "properties": {"x": {"type": "string", "pattern": "(a)\\1"}}}, "pattern"),
        ({"type": "object", "properties": {"x": {"type": "integer", "minimum": 2, "maximum": 1}}}, "minimum"),
    ]
    for schema, keyword in cases:
        response = await idle_api.post(
            "/v1/research", headers=idle_funded.key, json={"question": "q?", "response_schema": schema}
        )
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "invalid_request"
        assert f"{keyword} at /" in body["detail"], body["detail"]
