"""Send transactional email from a pandas DataFrame through SES, Pinpoint or SMTP.

Usage::

    import toolkit
    results = toolkit.send(df, via="ses", sender="Shop <sender@example.com>",
                           subject="Order {{order_id}}", text="Hi {{first_name}}")

For a partitioned frame too large for one process, ``toolkit.send_partitioned`` sends a Dask
DataFrame on Dask workers (``pip install "toolkit[dask]"``).

The public names (``__all__``): the entry points (``send``, ``send_in_background``,
``send_partitioned``, and ``check`` before a real send; ``preview`` and ``plan_table`` show
the mail and the plan before sending), the two specs, the targets, the
sandbox, the status vocabulary and the error tree. They are imported on first use, so
``import toolkit`` stays cheap in a notebook.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "check": "toolkit.checks",
    "send": "toolkit.api",
    "send_in_background": "toolkit.api",
    "send_partitioned": "toolkit.cluster.run",
    "preview": "toolkit.api",
    "plan_table": "toolkit.api",
    "SendHandle": "toolkit.api",
    "ComposeSpec": "toolkit.compose.spec",
    "EngineConfig": "toolkit.delivery.config",
    "AwsTarget": "toolkit.targets",
    "SmtpTarget": "toolkit.targets",
    "Quota": "toolkit.targets",
    "Target": "toolkit.targets",
    "Sandbox": "toolkit.sandbox",
    "Outcome": "toolkit.results",
    "RunSummary": "toolkit.results",
    "Status": "toolkit.results",
    "ToolkitError": "toolkit.errors",
    "ConfigurationError": "toolkit.errors",
    "MissingColumnError": "toolkit.errors",
    "MissingDependencyError": "toolkit.errors",
    "ProviderConfigurationError": "toolkit.errors",
    "SandboxError": "toolkit.errors",
}

__all__ = [
    "AwsTarget",
    "ComposeSpec",
    "ConfigurationError",
    "EngineConfig",
    "MissingColumnError",
    "MissingDependencyError",
    "Outcome",
    "ProviderConfigurationError",
    "Quota",
    "RunSummary",
    "Sandbox",
    "SandboxError",
    "SendHandle",
    "SmtpTarget",
    "Status",
    "Target",
    "ToolkitError",
    "check",
    "plan_table",
    "preview",
    "send",
    "send_in_background",
    "send_partitioned",
]

if TYPE_CHECKING:
    from toolkit.api import SendHandle, plan_table, preview, send, send_in_background
    from toolkit.checks import check
    from toolkit.cluster.run import send_partitioned
    from toolkit.compose.spec import ComposeSpec
    from toolkit.delivery.config import EngineConfig
    from toolkit.errors import (
        ConfigurationError,
        MissingColumnError,
        MissingDependencyError,
        ProviderConfigurationError,
        SandboxError,
        ToolkitError,
    )
    from toolkit.results import Outcome, RunSummary, Status
    from toolkit.sandbox import Sandbox
    from toolkit.targets import AwsTarget, Quota, SmtpTarget, Target


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
