"""SES identities: addresses and domains, whether each is verified, and who may send.

An identity is ``PENDING`` until verified, then ``SUCCESS``; one left pending past its window
(24 h for an address's link, 72 h for a domain's DKIM records) reads ``FAILED``. Who may send
follows SES's matching rules (``SES_IDENTITY_MATCHING`` in :mod:`toolkit.facts`): the address
itself, the address without its ``+label``, its domain or any parent domain, verified; local
parts compare case-sensitively, domains case-insensitively.

:class:`IdentityStore` is the registry the sandbox's :class:`~toolkit.sandbox.policy.Policy`
keeps (the policy is one); it is thread-safe.

Usage::

    store = IdentityStore(["sender@example.com", "example.com"])   # verified from the start
    record = store.add_identity("news@corp.test")                   # PENDING, with a token
    store.is_verified("news+x@corp.test")                           # False until...
    store.verify_identity("news@corp.test")                         # ...the link is followed
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parseaddr

from toolkit.facts import SES_DOMAIN_VERIFICATION_WINDOW, SES_VERIFICATION_LINK_EXPIRY

__all__ = [
    "FAILED",
    "PENDING",
    "SUCCESS",
    "Identity",
    "IdentityStore",
    "bare_address",
    "identity_key",
    "identity_kind",
]

PENDING, SUCCESS, FAILED = "PENDING", "SUCCESS", "FAILED"


def bare_address(address: str) -> str:
    """``"Name <a@b.c>"`` -> ``a@b.c`` (cheap when there is no display name)."""
    if "<" not in address:
        return address.strip()
    return parseaddr(address)[1] or address.strip()


@dataclass(slots=True)
class Identity:
    """One SES identity: an address or a domain, and where its verification stands.

    ``created`` is wall-clock time (identities survive a restart with a state directory);
    ``tokens`` are the domain's DKIM tokens, or the address's verification-link token.
    """

    name: str
    kind: str  # EMAIL_ADDRESS | DOMAIN
    status: str = PENDING  # PENDING | SUCCESS | FAILED
    created: float = field(default_factory=time.time)
    tokens: tuple[str, ...] = ()

    def current_status(self, now: float | None = None) -> str:
        """The status now: a pending identity fails once its verification window has passed."""
        if self.status != PENDING:
            return self.status
        window = (
            SES_VERIFICATION_LINK_EXPIRY.value
            if self.kind == "EMAIL_ADDRESS"
            else SES_DOMAIN_VERIFICATION_WINDOW.value
        )
        elapsed = (time.time() if now is None else now) - self.created
        return FAILED if elapsed > window.total_seconds() else PENDING

    def to_json(self) -> dict[str, object]:
        """What the state directory keeps."""
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "created": self.created,
            "tokens": list(self.tokens),
        }

    @classmethod
    def from_json(cls, data: object) -> Identity:
        """Read a stored identity (a bare name, as older state directories hold: verified)."""
        if isinstance(data, str):
            return cls(data, identity_kind(data), SUCCESS)
        assert isinstance(data, dict)
        return cls(
            str(data["name"]),
            str(data["kind"]),
            str(data["status"]),
            float(data["created"]),  # type: ignore[arg-type]
            tuple(data.get("tokens") or ()),
        )


def identity_kind(identity: str) -> str:
    """EMAIL_ADDRESS when it has an ``@``, else DOMAIN."""
    return "EMAIL_ADDRESS" if "@" in identity else "DOMAIN"


def identity_key(identity: str) -> str:
    """The lookup key: a domain lower-cased, an address with only its domain lower-cased
    (SES: "Email addresses are case sensitive … Domain names are case-insensitive")."""
    local, at, domain = identity.strip().rpartition("@")
    if not at:
        return identity.strip().lower().rstrip(".")
    return f"{local}@{domain.lower()}"


def _parent_domains(domain: str) -> list[str]:
    """``a.b.example.com`` -> itself, ``b.example.com``, ``example.com``, ``com``."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


class IdentityStore:
    """Identities and where their verification stands (see the module docstring)."""

    def __init__(self, identities: Iterable[str] = ()) -> None:
        self._identities_lock = threading.Lock()
        self._identities: dict[str, Identity] = {}
        for identity in identities:
            self.verify_identity(identity)

    def add_identity(self, identity: str) -> Identity:
        """Create a new, pending identity (CreateEmailIdentity); ValueError if it exists.

        A domain gets three DKIM tokens, an address a verification-link token.
        """
        kind = identity_kind(identity)
        count = 3 if kind == "DOMAIN" else 1
        record = Identity(
            identity.strip() if kind == "EMAIL_ADDRESS" else identity_key(identity),
            kind,
            tokens=tuple(secrets.token_hex(16) for _ in range(count)),
        )
        key = identity_key(identity)
        with self._identities_lock:
            if key in self._identities:
                raise ValueError(f"identity {identity} already exists")
            self._identities[key] = record
        return record

    def verify_identity(self, identity: str) -> str:
        """Mark an address or a domain verified (creating it if needed); returns its type.

        The sandbox-only way to complete a verification (SES needs a click on the mailed link,
        or DNS records for a domain).
        """
        key = identity_key(identity)
        kind = identity_kind(identity)
        with self._identities_lock:
            record = self._identities.get(key)
            if record is None:
                name = identity.strip() if kind == "EMAIL_ADDRESS" else key
                self._identities[key] = record = Identity(name, kind)
            record.status = SUCCESS
        return kind

    def restore_identity(self, record: Identity) -> None:
        """Put back an identity read from a state directory."""
        with self._identities_lock:
            self._identities[identity_key(record.name)] = record

    def remove_identity(self, identity: str) -> bool:
        """Forget an identity; False when it was not there."""
        with self._identities_lock:
            return self._identities.pop(identity_key(identity), None) is not None

    def clear_identities(self) -> None:
        """Forget every identity (before restoring a state directory's)."""
        with self._identities_lock:
            self._identities.clear()

    def identities(self) -> dict[str, str]:
        """A copy of the identities, verified or not: name -> EMAIL_ADDRESS | DOMAIN."""
        with self._identities_lock:
            return {record.name: record.kind for record in self._identities.values()}

    def identity_records(self) -> list[Identity]:
        """Every identity record (for listing and persisting)."""
        with self._identities_lock:
            return list(self._identities.values())

    def identity(self, identity: str) -> Identity | None:
        """The record of a known identity, else None."""
        return self._identities.get(identity_key(identity))

    def identity_type(self, identity: str) -> str | None:
        """EMAIL_ADDRESS / DOMAIN for a known identity, else None."""
        record = self.identity(identity)
        return None if record is None else record.kind

    def _verified_key(self, key: str) -> bool:
        record = self._identities.get(key)
        return record is not None and record.status == SUCCESS

    def is_verified(self, address: str, *, labels: bool = True) -> bool:
        """True when SES would let ``address`` send: it, or (with ``labels``) the address
        without its ``+label``, or its domain or a parent domain is a verified identity."""
        bare = bare_address(address)
        local, at, domain = bare.rpartition("@")
        if not at or not local:  # "@example.com" is no address, whatever its domain
            return False
        domain = domain.lower().rstrip(".")
        if self._verified_key(f"{local}@{domain}"):
            return True
        if labels and "+" in local and self._verified_key(f"{local.split('+', 1)[0]}@{domain}"):
            return True
        return any(self._verified_key(parent) for parent in _parent_domains(domain))
