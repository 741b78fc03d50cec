"""The embedded sandbox: a local SES v2 / Pinpoint HTTP API and SES-like SMTP server.

Usage::

    from toolkit.sandbox import Sandbox

    with Sandbox() as sandbox:
        ses = sandbox.client("sesv2")       # a plain boto3 client aimed at the sandbox
        ...
        sandbox.mailbox.messages()          # what was accepted
"""

from toolkit.sandbox.faults import FaultAction, Faults
from toolkit.sandbox.mailbox import Mailbox
from toolkit.sandbox.policy import Admission, Policy
from toolkit.sandbox.server import Sandbox

__all__ = ["Admission", "FaultAction", "Faults", "Mailbox", "Policy", "Sandbox"]
