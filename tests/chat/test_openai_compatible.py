"""The official `openai` client gets cited research from `/v1/chat/completions` on a real server."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest

from core.db import Database
from tests.accounts import balance_of, open_account

QUESTION = "How does a crashed LangGraph run resume from its checkpoints?"
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


@pytest.fixture
async def db(settings):
    database = Database(settings.database_url, min_size=1, max_size=2)
    await database.open()
    yield database
    await database.close()


@pytest.fixture
async def client(shared_server, db):
    import httpx

    async with httpx.AsyncClient(base_url=shared_server.base_url, timeout=60) as http:
        account = await open_account(http, db, credits=1000)
    oai = openai.OpenAI(base_url=f"{shared_server.base_url}/v1", api_key=account.api_key, max_retries=0)
    yield oai, account
    oai.close()


async def test_models_are_listed_as_the_research_modes(client):
    oai, _ = client
    assert [model.id for model in oai.models.list()] == [
        "infrence-lite",
        "infrence-standard",
        "infrence-pro",
    ]


async def test_a_chat_completion_is_a_cited_brief_charged_as_a_research_job(client, db):
    oai, account = client
    completion = oai.chat.completions.create(
        model="infrence-lite", messages=[{"role": "user", "content": QUESTION}]
    )
    answer = completion.choices[0].message.content
    extra = completion.model_extra
    assert completion.id == f"chatcmpl-{extra['infrence']['job_id']}"
    assert extra["citations"], answer
    assert "Sources:\n[1] " in answer and "[1]" in answer.split("Sources:")[0]
    assert extra["infrence"]["status"] == "succeeded"
    charged = extra["infrence"]["credits_charged"]
    assert await balance_of(db, account) == 1000 - charged


async def test_research_controls_pass_through_extra_body(client):
    oai, _ = client
    first = oai.chat.completions.create(
        model="infrence-lite", messages=[{"role": "user", "content": QUESTION}]
    )
    job_id = first.model_extra["infrence"]["job_id"]

    with pytest.raises(openai.BadRequestError) as refused:
        oai.chat.completions.create(
            model="infrence-lite",
            messages=[{"role": "user", "content": QUESTION}],
            extra_body={"output_language": "english"},
        )
    follow_up = oai.chat.completions.create(
        model="infrence-lite",
        messages=[{"role": "user", "content": "How are checkpoints stored?"}],
        extra_body={"previous_job_id": job_id, "source_policy": {"exclude_domains": ["spam.test"]}},
    )

    assert "output_language" in str(refused.value)
    assert follow_up.model_extra["infrence"]["status"] == "succeeded"
    assert set(first.model_extra["citations"]) & set(follow_up.model_extra["citations"])


async def test_a_streamed_completion_ends_with_stop_and_done(client):
    oai, _ = client
    stream = oai.chat.completions.create(
        model="infrence-lite", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "Sources:" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"]
    assert len({chunk.id for chunk in chunks}) == 1


async def test_response_format_json_schema_returns_an_object_that_validates(client):
    oai, _ = client
    completion = oai.chat.completions.create(
        model="infrence-lite",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": QUESTION}],
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}},
    )
    jsonschema.validate(json.loads(completion.choices[0].message.content), SCHEMA)


async def test_bad_model_and_missing_key_are_refused_as_openai_errors(client, shared_server):
    oai, _ = client
    with pytest.raises(openai.BadRequestError) as refused:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert "infrence-lite" in str(refused.value)
    anonymous = openai.OpenAI(base_url=f"{shared_server.base_url}/v1", api_key="ifr_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.models.list()
