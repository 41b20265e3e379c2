"""Bearer tokens: ES256 JWTs with a key id, verified against a key set that may hold retired keys
so that rotation needs no downtime (old keys verify until their tokens expire).

The credit service issues tokens (OAuth2 client credentials); every service verifies them.
"""

from __future__ import annotations

import json
import pathlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from services.kit.errors import ProblemError

ALGORITHM = "ES256"
CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an authenticated client acting for a department, with its scopes."""

    client_id: str
    department: str
    scopes: frozenset[str]
    token_id: str = ""
    expires_at: int = 0
    user_id: str | None = None
    case_id: str | None = None

    def has(self, scope: str) -> bool:
        return scope in self.scopes


def generate_key(kid: str | None = None) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid or f"k{int(time.time())}-{secrets.token_hex(3)}"})


def load_keyset(path: pathlib.Path) -> KeySet:
    """Private JWKS file; the first key signs, all keys verify."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return KeySet.import_key_set(data)


def write_keyset(path: pathlib.Path, keys: KeySet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys.as_dict(private=True), indent=2), encoding="utf-8")
    path.chmod(0o600)


def ensure_dev_keyset(path: pathlib.Path) -> KeySet:
    if not path.exists():
        write_keyset(path, KeySet([generate_key()]))
    return load_keyset(path)


@dataclass
class TokenService:
    keys: KeySet
    issuer: str
    audience: str
    lifetime_seconds: int = 900
    _cache: OrderedDict[str, Principal] = field(default_factory=OrderedDict)
    _cache_size: int = 4096

    @property
    def signing_key(self) -> ECKey:
        key = self.keys.keys[0]
        assert isinstance(key, ECKey)
        return key

    def replace_keys(self, keys: KeySet) -> None:
        """Key rotation: the new first key signs from now on; keys still listed keep verifying."""
        self.keys = keys
        self._cache.clear()

    def public_jwks(self) -> dict[str, Any]:
        return dict(self.keys.as_dict(private=False))

    def issue(self, *, client_id: str, department: str, scopes: list[str], now: int | None = None) -> tuple[str, int]:
        issued = now or int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "dept": department,
            "scope": " ".join(sorted(scopes)),
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.lifetime_seconds,
            "jti": secrets.token_hex(12),
        }
        header = {"alg": ALGORITHM, "kid": self.signing_key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.signing_key, algorithms=[ALGORITHM]), self.lifetime_seconds

    def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        now = int(time.time())
        if cached is not None:
            if cached.expires_at + CLOCK_SKEW_SECONDS >= now:
                return cached
            self._cache.pop(token, None)
        try:
            decoded = jwt.decode(token, self.keys, algorithms=[ALGORITHM])
            jwt.JWTClaimsRegistry(
                now=now,
                leeway=CLOCK_SKEW_SECONDS,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
                nbf={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise unauthorised(f"token refused: {exc}") from exc
        claims = decoded.claims
        principal = Principal(
            client_id=str(claims["sub"]),
            department=str(claims.get("dept", "")),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            token_id=str(claims.get("jti", "")),
            expires_at=int(claims["exp"]),
        )
        self._cache[token] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal


def unauthorised(detail: str) -> ProblemError:
    return ProblemError(401, "unauthenticated", detail, headers={"WWW-Authenticate": 'Bearer realm="fire-credit"'})


def forbidden_scope(scope: str) -> ProblemError:
    return ProblemError(
        403,
        "insufficient_scope",
        f"this operation needs the `{scope}` scope",
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
    )
