"""What the sandbox's API handlers share: policy, mailbox, faults and stored resources.

Resources (SES templates and configuration sets, Pinpoint apps, email channels and templates,
identities and where their verification stands) live in plain dicts guarded by one lock, and
are written to the mailbox's ``state`` table on every change, so a sandbox restarted on the
same state directory finds them again.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from toolkit.errors import SandboxError
from toolkit.facts import SES_VERIFICATION_EMAIL
from toolkit.sandbox.faults import Faults
from toolkit.sandbox.mailbox import Mailbox
from toolkit.sandbox.policy import Identity, Policy
from toolkit.sandbox.reputation import Reputation
from toolkit.sandbox.suppression import AccountSuppression

ACCOUNT_ID = "123456789012"
CONFIRM_PATH = "/sandbox/confirm-verification"
_KEYS = (
    "ses_templates",
    "configuration_sets",
    "pinpoint_apps",
    "pinpoint_channels",
    "pinpoint_templates",
)


@dataclass
class SandboxState:
    """Everything the HTTP handlers read and change; one per running sandbox."""

    policy: Policy
    mailbox: Mailbox
    faults: Faults
    region: str = "us-east-1"
    account_id: str = ACCOUNT_ID
    endpoint_url: str = ""  # set once the HTTP API listens (the verification links use it)
    pinpoint_ended: bool = False  # answer Pinpoint email as AWS does after end of support
    ses_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    configuration_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    pinpoint_apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    pinpoint_channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    pinpoint_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    suppression: AccountSuppression = field(default_factory=AccountSuppression)
    reputation: Reputation = field(default_factory=Reputation)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def load(self) -> None:
        """Read persisted resources and identities from the mailbox (after a restart)."""
        with self.lock:
            for key in _KEYS:
                stored = self.mailbox.get_state(key)
                if stored:
                    getattr(self, key).update(stored)
            stored_list = self.mailbox.get_state("suppression")
            if stored_list is not None:
                self.suppression.load_json(stored_list)
            identities = self.mailbox.get_state("identities")
            if identities is not None:
                self.policy.clear_identities()
                for stored in identities:
                    self.policy.restore_identity(Identity.from_json(stored))

    def save(self, key: str) -> None:
        """Persist one resource table (``"identities"`` persists the policy's identities)."""
        with self.lock:
            if key == "identities":
                records = sorted(self.policy.identity_records(), key=lambda r: r.name)
                value: Any = [record.to_json() for record in records]
            elif key == "suppression":
                value = self.suppression.to_json()
            else:
                value = getattr(self, key)
            self.mailbox.put_state(key, value)

    def arn(self, service: str, resource: str) -> str:
        """An ARN in this sandbox's region and account."""
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def send_verification_mail(self, identity: Identity) -> str:
        """Put SES's verification mail for an address identity in the mailbox; returns the
        link that confirms it (the sandbox serves it at :data:`CONFIRM_PATH`)."""
        sender, subject = SES_VERIFICATION_EMAIL.value
        region_name = _region_name(self.region)
        query = urlencode({"Identity.IdentityName": identity.name, "Token": identity.tokens[0]})
        link = f"{self.endpoint_url}{CONFIRM_PATH}?{query}"
        mail = EmailMessage()
        mail["From"] = f"Amazon Web Services <{sender}>"
        mail["To"] = identity.name
        mail["Subject"] = subject.format(region_name=region_name)
        mail.set_content(
            "Dear Amazon Simple Email Service Customer,\n\n"
            "We have received a request to authorize this email address for use with Amazon "
            f"SES in region {region_name}. If you requested this verification, please go to "
            f"the following URL to confirm that you are authorized to use this email "
            f"address:\n\n{link}\n\nYour request will expire in 24 hours.\n\n"
            "(Sent by the toolkit's embedded sandbox, which models SES's verification.)\n",
            cte="7bit",  # the link on one line, as it is clicked
        )
        self.mailbox.add(
            interface="verification",
            sender=sender,
            recipients=[identity.name],
            subject=str(mail["Subject"]),
            content=mail.as_bytes(),
            detail=link,  # so `python -m toolkit mailbox --state DIR` shows it
            events=[],
        )
        return link


def _region_name(region: str) -> str:
    """``us-east-1`` -> ``US East (N. Virginia)``, from botocore's endpoint data."""
    from toolkit.aws.isolated import isolated_session

    endpoints = isolated_session().get_data("endpoints")
    for partition in endpoints.get("partitions", ()):
        described = partition.get("regions", {}).get(region)
        if described and described.get("description"):
            return str(described["description"])
    return region


_LOCK_FILE = ".sandbox.lock"


def lock_state_dir(state_dir: Path) -> int:
    """Hold the state directory for this sandbox alone (a file lock the kernel drops when the
    process dies): two sandboxes on one directory would mix their mailboxes and identities."""
    import fcntl

    state_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(state_dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        raise SandboxError(
            f"another sandbox is serving from {state_dir}: stop it, or give this one another "
            "state directory"
        ) from None
    return descriptor
