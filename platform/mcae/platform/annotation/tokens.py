"""API tokens: ``mcae_<id>_<secret>``; the server keeps the id and an scrypt hash of the secret.

The secret is shown once when the token is made and never stored, logged or put in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "mcae"


@dataclass(frozen=True)
class ScryptParams:
    n: int = 16384
    r: int = 8
    p: int = 1

    def encode(self) -> str:
        return f"{self.n}:{self.r}:{self.p}"

    @classmethod
    def decode(cls, text: str) -> ScryptParams:
        n, r, p = (int(part) for part in text.split(":"))
        return cls(n, r, p)


@dataclass(frozen=True)
class NewToken:
    """A freshly made token: ``plain`` goes to the user once; the rest is stored."""

    id: str
    plain: str
    salt: str
    secret_hash: str
    params: str


def hash_secret(secret: str, salt: str, params: ScryptParams) -> str:
    digest = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=params.n, r=params.r,
                            p=params.p, maxmem=256 * 1024 * 1024, dklen=32)
    return digest.hex()


def new_token(params: ScryptParams, nbytes: int = 32) -> NewToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(nbytes)
    salt = secrets.token_hex(16)
    return NewToken(token_id, f"{PREFIX}_{token_id}_{secret}", salt,
                    hash_secret(secret, salt, params), params.encode())


def split_token(plain: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    parts = plain.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    try:
        bytes.fromhex(parts[1])
    except ValueError:
        return None
    return parts[1], parts[2]


def verify(secret: str, salt: str, secret_hash: str, params: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, salt, ScryptParams.decode(params)), secret_hash)
