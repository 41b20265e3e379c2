"""sharing's settings, from the environment (prefix `SHARING_`) or a `.env` file."""

from __future__ import annotations

import pathlib
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PII_KEY = "development-only-sharing-pii-key-never-in-production"
DEFAULT_POLICY_FILE = pathlib.Path(__file__).parent / "policy.toml"


class SharingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHARING_", env_file=".env", extra="ignore")

    mode: Literal["development", "production"] = "development"
    database_url: str | None = Field(default=None, description="postgresql:// URL; unset = embedded server")
    data_dir: pathlib.Path = pathlib.Path(".dev")
    pii_key: str = DEV_PII_KEY
    policy_file: pathlib.Path = DEFAULT_POLICY_FILE
    credit_url: str = Field(default="http://127.0.0.1:8000", description="base URL of the credit service")
    credit_client_id: str = "sharing-sync"
    credit_client_secret: str = ""
    credit_timeout_seconds: float = Field(default=60.0, gt=0)
    token_issuer: str = "https://credit.fire.yanbian.gov.cn"  # noqa: S105 - an issuer URL, not a secret
    token_audience: str = "fire-credit"  # noqa: S105 - an audience name, not a secret
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_defaults_in_production(self) -> SharingSettings:
        if self.mode == "production":
            problems = []
            if not self.database_url:
                problems.append("SHARING_DATABASE_URL must be set")
            if self.pii_key == DEV_PII_KEY or len(self.pii_key) < 32:
                problems.append("SHARING_PII_KEY must be a secret of at least 32 characters")
            if not self.credit_client_secret:
                problems.append("SHARING_CREDIT_CLIENT_SECRET must be set")
            if problems:
                raise ValueError("refusing to start in production mode: " + "; ".join(problems))
        return self


def resolve_database_url(settings: SharingSettings) -> str:
    if settings.database_url:
        return settings.database_url
    from services.kit.pgserver import embedded_server_url, ensure_database, local_server_url

    server = local_server_url() or embedded_server_url((settings.data_dir / "pg").resolve())
    return ensure_database(server, "sharing")
