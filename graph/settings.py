"""The graph's settings, defined once: provider keys, addresses, folders and one model per stage.

`core.settings.Settings` extends `GraphSettings`, so the server reads these fields (and their
environment variables) from the same definitions; the CLI, evals and `langgraph dev` build one
with `GraphSettings.from_env()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

DEFAULT_MODEL = "gpt-4.1-mini"


class ModelStage(StrEnum):
    """The steps of a run that call a model; each can use its own (`INFRENCE_MODEL_<STAGE>`)."""

    planner = "planner"
    extractor = "extractor"
    writer = "writer"
    critic = "critic"
    caster = "caster"


def _env(name: str, env: str) -> AliasChoices:
    return AliasChoices(name, env)


class GraphSettings(BaseModel):
    """The provider configuration a research run needs, as plain values."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    openai_api_key: str | None = Field(
        None, repr=False, validation_alias=_env("openai_api_key", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(None, validation_alias=_env("openai_base_url", "OPENAI_BASE_URL"))
    tavily_api_key: str | None = Field(
        None, repr=False, validation_alias=_env("tavily_api_key", "TAVILY_API_KEY")
    )
    tavily_api_base: str | None = Field(None, validation_alias=_env("tavily_api_base", "TAVILY_API_BASE"))
    corpus_dir: Path | None = Field(None, validation_alias=_env("corpus_dir", "INFRENCE_CORPUS_DIR"))
    data_dir: Path = Field(Path(".infrence"), validation_alias=_env("data_dir", "INFRENCE_DATA_DIR"))
    allow_private_urls: bool = Field(
        False, validation_alias=_env("allow_private_urls", "INFRENCE_ALLOW_PRIVATE_URLS")
    )
    model_planner: str = Field(
        DEFAULT_MODEL, validation_alias=_env("model_planner", "INFRENCE_MODEL_PLANNER")
    )
    model_extractor: str = Field(
        DEFAULT_MODEL, validation_alias=_env("model_extractor", "INFRENCE_MODEL_EXTRACTOR")
    )
    model_writer: str = Field(DEFAULT_MODEL, validation_alias=_env("model_writer", "INFRENCE_MODEL_WRITER"))
    model_critic: str = Field(DEFAULT_MODEL, validation_alias=_env("model_critic", "INFRENCE_MODEL_CRITIC"))
    model_caster: str = Field(DEFAULT_MODEL, validation_alias=_env("model_caster", "INFRENCE_MODEL_CASTER"))

    @model_validator(mode="before")
    @classmethod
    def _unset_when_empty(cls, data: Any) -> Any:
        """An empty or None value keeps the default (`INFRENCE_MODEL_WRITER=` means the default model)."""
        if not isinstance(data, Mapping):
            return data
        own = {
            name for field in GraphSettings.model_fields.values() for name in field.validation_alias.choices
        }
        return {key: value for key, value in data.items() if key not in own or value not in (None, "")}

    @classmethod
    def from_any(cls, source: Any) -> GraphSettings:
        """From settings (this class or a subclass), a mapping, or any object with these attributes."""
        if isinstance(source, GraphSettings):
            return source
        if isinstance(source, Mapping):
            return cls.model_validate(source)
        return cls.model_validate({name: getattr(source, name, None) for name in cls.model_fields})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GraphSettings:
        environ = os.environ if environ is None else environ
        names = {alias for field in cls.model_fields.values() for alias in field.validation_alias.choices}
        return cls.model_validate({key: value for key, value in environ.items() if key in names})

    @property
    def models(self) -> dict[ModelStage, str]:
        return {stage: getattr(self, f"model_{stage.value}") for stage in ModelStage}
