"""The app's published OpenAPI against the contract (the repo's copy of it)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.contract.contract_diff import METHODS, diff

CONTRACT = json.loads((Path(__file__).parent / "openapi.json").read_text())


def _published_spec(settings) -> dict:
    from api.app import create_app

    return create_app(settings).openapi()


def _operation_of(problem: str) -> str:
    for sep in (":", " param", " body", " ->"):
        problem = problem.split(sep)[0]
    return problem


def test_every_implemented_operation_matches_the_contract(settings):
    problems = diff(CONTRACT, _published_spec(settings))
    mismatches = [p for p in problems if not p.endswith("operation missing")]
    assert mismatches == []


def test_no_operation_of_the_contract_is_missing(settings):
    problems = diff(CONTRACT, _published_spec(settings))
    missing = sorted(_operation_of(p) for p in problems if p.endswith("operation missing"))
    total = sum(1 for item in CONTRACT["paths"].values() for m in METHODS if m in item)
    assert total == 51
    assert missing == []


def test_security_schemes_and_title(settings):
    spec = _published_spec(settings)
    assert spec["info"]["title"] == "Infrence API"
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer_jwt"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["bearer_api_key"]["scheme"] == "bearer"
    assert {t["name"] for t in CONTRACT["tags"]} <= {t["name"] for t in spec["tags"]}


def test_no_422_is_published(settings):
    spec = _published_spec(settings)
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert "422" not in op.get("responses", {}), f"{method.upper()} {path}"
