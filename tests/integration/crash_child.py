"""Child process for test_crash_resume: send N rows to a sandbox started by the test.

Usage: python crash_child.py INFO_JSON LEDGER N
(INFO_JSON is ``Sandbox.info()`` written by the parent; the test SIGKILLs this process.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from toolkit.api import send
from toolkit.targets import AwsTarget


def main() -> None:
    info = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    n = int(sys.argv[3])
    target = AwsTarget(
        region=info["region"],
        endpoint_url=info["endpoint_url"],
        access_key_id=info["access_key_id"],
        secret_access_key=info["secret_access_key"],
    )
    df = pd.DataFrame({"email": [f"user{i}@example.org" for i in range(n)]})
    send(
        df,
        "ses",
        target=target,
        sender="sender@example.com",
        subject="Hi",
        text="x",
        ledger=sys.argv[2],
        workers=8,
        progress=False,
    )


if __name__ == "__main__":
    main()
