"""sharing's ingest policy file (guard shares, fire-sensitive industries, forwarding)."""

from __future__ import annotations

import pathlib
import tomllib

from pydantic import BaseModel, ConfigDict, Field


class GuardPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_deregister_share: float = Field(ge=0, le=1)
    max_change_share: float = Field(ge=0, le=1)
    min_count_ratio: float = Field(ge=0, le=1)
    min_registry_size: int = Field(ge=0)


class SurveyPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fire_sensitive: list[str] = Field(min_length=1)
    baseline_established_within_days: int = Field(ge=0)


class ForwardPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(ge=1, le=20_000)
    concurrency: int = Field(default=2, ge=1, le=16, description="bulk upserts in flight at once")
    retry_initial_seconds: float = Field(gt=0)
    retry_max_seconds: float = Field(gt=0)
    give_up_after_seconds: float = Field(ge=0)


class SharingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    guard: GuardPolicy
    survey: SurveyPolicy
    forward: ForwardPolicy


def load_policy(path: pathlib.Path) -> SharingPolicy:
    return SharingPolicy.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
