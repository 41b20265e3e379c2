"""credit's settings, from the environment (prefix `CREDIT_`) or a `.env` file.

Development mode starts without any configuration: an embedded PostgreSQL, a generated signing key
and a fixed development PII key. Production mode refuses to start with any of those defaults.
"""

from __future__ import annotations

import pathlib
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.credit.policy.model import DEFAULT_POLICY_FILE

DEV_PII_KEY = "development-only-pii-key-never-use-in-production"
DEV_AUDIT_KEY = "development-only-audit-key-never-use-in-production"


class CreditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_", env_file=".env", extra="ignore")

    mode: Literal["development", "production"] = "development"
    database_url: str | None = Field(default=None, description="postgresql:// URL; unset = embedded server")
    data_dir: pathlib.Path = pathlib.Path(".dev")
    signing_keys_file: pathlib.Path | None = None
    pii_key: str = DEV_PII_KEY
    audit_key: str = DEV_AUDIT_KEY
    audit_algorithm: Literal["sm3", "sha256"] = "sm3"
    rate_limit_per_minute: int = Field(default=6000, ge=1, description="requests per client per replica")
    issuer: str = "https://credit.fire.yanbian.gov.cn"
    audience: str = "fire-credit"
    token_lifetime_seconds: int = Field(default=900, ge=60, le=86_400)
    policy_file: pathlib.Path = DEFAULT_POLICY_FILE
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    hot_path: bool = Field(
        default=True,
        description="serve the unit read and the credit checks without the framework's routing (same answers)",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_defaults_in_production(self) -> CreditSettings:
        if self.mode == "production":
            problems = []
            if not self.database_url:
                problems.append("CREDIT_DATABASE_URL must be set")
            if self.signing_keys_file is None:
                problems.append("CREDIT_SIGNING_KEYS_FILE must name a private JWKS file")
            if self.pii_key == DEV_PII_KEY or len(self.pii_key) < 32:
                problems.append("CREDIT_PII_KEY must be a secret of at least 32 characters")
            if self.audit_key == DEV_AUDIT_KEY or len(self.audit_key) < 32:
                problems.append("CREDIT_AUDIT_KEY must be a secret of at least 32 characters")
            if problems:
                raise ValueError("refusing to start in production mode: " + "; ".join(problems))
        return self

    @property
    def keys_file(self) -> pathlib.Path:
        return self.signing_keys_file or self.data_dir / "credit-signing-keys.json"
