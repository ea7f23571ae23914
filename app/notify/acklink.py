"""One-click acknowledge links (pure): ``{PARKTWIN_PUBLIC_URL}/notify/ack/<token>``.

The token is ``v1.<payload>.<mac>``: the payload is base64url JSON ``{"a": alarm id, "p":
park, "s": subject (``person:<id>``), "n": display name, "e": expiry (epoch s), "j": nonce}``,
the MAC base64url(HMAC-SHA256(``PARKTWIN_NOTIFY_ACK_SECRET``, ``v1.<payload>``)). Anyone
holding the link may acknowledge that one alarm as that person until it expires, once: the
nonce is recorded when it is used (``notify_ack_use``) and a second use is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass

import orjson

PREFIX = "v1"
MAX_TOKEN = 1024  # characters; a longer path segment is refused before any work


class BadToken(ValueError):
    """``reason``: ``malformed``, ``bad_signature`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claim:
    alarm_id: uuid.UUID
    park_id: str
    subject: str
    name: str
    expires_at: int
    nonce: uuid.UUID

    @property
    def actor(self) -> str:
        """Who the alarm's audit trail says acknowledged: ``notify:<name> (<subject>)``."""
        return f"notify:{self.name} ({self.subject})"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, signed: str) -> str:
    return _b64(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest())


def issue(
    secret: str,
    *,
    alarm_id: str,
    park_id: str,
    subject: str,
    name: str,
    ttl_s: float,
    now: float | None = None,
) -> str:
    expires = int((time.time() if now is None else now) + ttl_s)
    payload = {
        "a": alarm_id,
        "p": park_id,
        "s": subject,
        "n": name[:100],
        "e": expires,
        "j": str(uuid.uuid4()),
    }
    signed = f"{PREFIX}.{_b64(orjson.dumps(payload))}"
    return f"{signed}.{_mac(secret, signed)}"


def verify(secret: str, token: str, now: float | None = None) -> Claim:
    """The claim of a genuine, unexpired token; else :class:`BadToken`."""
    if len(token) > MAX_TOKEN or token.count(".") != 2:
        raise BadToken("malformed")
    signed, _, mac = token.rpartition(".")
    if not signed.startswith(PREFIX + "."):
        raise BadToken("malformed")
    if not hmac.compare_digest(mac, _mac(secret, signed)):
        raise BadToken("bad_signature")
    try:
        data = orjson.loads(_unb64(signed.split(".", 1)[1]))
        claim = Claim(
            uuid.UUID(data["a"]),
            str(data["p"]),
            str(data["s"]),
            str(data["n"]),
            int(data["e"]),
            uuid.UUID(data["j"]),
        )
    except (KeyError, TypeError, ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadToken("malformed") from exc
    if claim.expires_at < (time.time() if now is None else now):
        raise BadToken("expired")
    return claim
