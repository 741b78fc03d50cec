"""Send transactional email from a pandas DataFrame through SES, Pinpoint or SMTP.

Usage::

    import toolkit
    results = toolkit.send(df, via="ses", sender="Shop <sender@example.com>",
                           subject="Order {{order_id}}", text="Hi {{first_name}}")

Names are imported on first use, so ``import toolkit`` stays cheap in a notebook.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "AwsTarget",
    "ComposeSpec",
    "Outcome",
    "Sandbox",
    "SendHandle",
    "SmtpTarget",
    "Status",
    "send",
    "send_in_background",
]

_HOMES = {
    "AwsTarget": "toolkit.targets",
    "ComposeSpec": "toolkit.compose",
    "Outcome": "toolkit.results",
    "Sandbox": "toolkit.sandbox",
    "SendHandle": "toolkit.api",
    "SmtpTarget": "toolkit.targets",
    "Status": "toolkit.results",
    "send": "toolkit.api",
    "send_in_background": "toolkit.api",
}

if TYPE_CHECKING:
    from toolkit.api import SendHandle, send, send_in_background
    from toolkit.compose import ComposeSpec
    from toolkit.results import Outcome, Status
    from toolkit.sandbox import Sandbox
    from toolkit.targets import AwsTarget, SmtpTarget


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
