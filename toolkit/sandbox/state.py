"""What the sandbox's API handlers share: policy, mailbox, faults and stored resources.

Resources (SES templates, Pinpoint apps, email channels and templates, verified identities)
live in plain dicts guarded by one lock, and are written to the mailbox's ``state`` table on
every change, so a sandbox restarted on the same state directory finds them again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from toolkit.sandbox.faults import Faults
from toolkit.sandbox.mailbox import Mailbox
from toolkit.sandbox.policy import Policy

ACCOUNT_ID = "123456789012"
_KEYS = ("ses_templates", "pinpoint_apps", "pinpoint_channels", "pinpoint_templates")


@dataclass
class SandboxState:
    """Everything the HTTP handlers read and change; one per running sandbox."""

    policy: Policy
    mailbox: Mailbox
    faults: Faults
    region: str = "us-east-1"
    account_id: str = ACCOUNT_ID
    ses_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    pinpoint_apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    pinpoint_channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    pinpoint_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def load(self) -> None:
        """Read persisted resources and identities from the mailbox (after a restart)."""
        with self.lock:
            for key in _KEYS:
                stored = self.mailbox.get_state(key)
                if stored:
                    getattr(self, key).update(stored)
            identities = self.mailbox.get_state("identities")
            if identities is not None:
                for name in self.policy.identities():
                    self.policy.remove_identity(name)
                for name in identities:
                    self.policy.verify_identity(name)

    def save(self, key: str) -> None:
        """Persist one resource table (``"identities"`` persists the policy's identities)."""
        with self.lock:
            if key == "identities":
                value: Any = sorted(self.policy.identities())
            else:
                value = getattr(self, key)
            self.mailbox.put_state(key, value)

    def arn(self, service: str, resource: str) -> str:
        """An ARN in this sandbox's region and account."""
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"
