"""SES API v2 suppression-list operations of the sandbox.

Put/Get/List/DeleteSuppressedDestination and PutAccountSuppressionAttributes on the paths and
shapes of botocore's model (the router validates the input first). Answers as AWS's API
reference describes them: an address not on the list is ``NotFoundException``; a bad address,
reason, page size or date is ``BadRequestException``; a ``NextToken`` the sandbox did not issue
is ``InvalidNextTokenException``. Tenants are not modelled: any ``TenantName`` is a tenant
that does not exist (``NotFoundException``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from toolkit.facts import SES_SUPPRESSION_LIST_PAGE
from toolkit.sandbox.http_api import ApiError
from toolkit.sandbox.ses_checks import address_problem
from toolkit.sandbox.state import SandboxState
from toolkit.sandbox.suppression import REASONS

Handler = Callable[[dict[str, Any], int], Any]
DEFAULT_PAGE, MAX_PAGE = SES_SUPPRESSION_LIST_PAGE.value
_TOKEN_PREFIX = "sup-"


class SesSuppressionApi:
    """The suppression-list handlers bound to one sandbox's state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handlers(self) -> dict[str, Handler]:
        """Operation name -> handler, for :meth:`Router.add_service`."""
        return {
            "PutSuppressedDestination": self.put_suppressed_destination,
            "GetSuppressedDestination": self.get_suppressed_destination,
            "ListSuppressedDestinations": self.list_suppressed_destinations,
            "DeleteSuppressedDestination": self.delete_suppressed_destination,
            "PutAccountSuppressionAttributes": self.put_account_suppression_attributes,
        }

    def put_suppressed_destination(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        _no_tenant(params)
        address, reason = params["EmailAddress"], params["Reason"]
        problem = address_problem(address)
        if problem is not None:
            raise ApiError(400, "BadRequestException", problem)
        if reason not in REASONS:
            raise ApiError(400, "BadRequestException", f"Invalid reason: {reason}.")
        self.state.suppression.put(address, reason)
        return {}

    def get_suppressed_destination(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        _no_tenant(params)
        entry = self.state.suppression.get(params["EmailAddress"])
        if entry is None:
            raise ApiError(404, "NotFoundException", _not_found(params["EmailAddress"]))
        return {"SuppressedDestination": entry.detail()}

    def delete_suppressed_destination(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        _no_tenant(params)
        if not self.state.suppression.delete(params["EmailAddress"]):
            raise ApiError(404, "NotFoundException", _not_found(params["EmailAddress"]))
        return {}

    def list_suppressed_destinations(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        _no_tenant(params)
        reasons = params.get("Reasons") or []
        unknown = [r for r in reasons if r not in REASONS]
        if unknown:
            raise ApiError(400, "BadRequestException", f"Invalid reason: {unknown[0]}.")
        start = _date(params.get("StartDate"), "StartDate")
        end = _date(params.get("EndDate"), "EndDate")
        page_size = params.get("PageSize")
        page_size = DEFAULT_PAGE if page_size is None else int(page_size)
        if not 1 <= page_size <= MAX_PAGE:
            raise ApiError(
                400, "BadRequestException", f"PageSize must be between 1 and {MAX_PAGE}."
            )
        token = params.get("NextToken")
        offset = 0
        if token:
            text = str(token)
            if not (text.startswith(_TOKEN_PREFIX) and text[len(_TOKEN_PREFIX) :].isdigit()):
                raise ApiError(400, "InvalidNextTokenException", "The NextToken is not valid.")
            offset = int(text[len(_TOKEN_PREFIX) :])
        entries = self.state.suppression.entries(reasons=reasons, start=start, end=end)
        chunk = entries[offset : offset + page_size]
        answer: dict[str, Any] = {"SuppressedDestinationSummaries": [e.summary() for e in chunk]}
        if offset + page_size < len(entries):
            answer["NextToken"] = f"{_TOKEN_PREFIX}{offset + page_size}"
        return answer

    def put_account_suppression_attributes(
        self, params: dict[str, Any], size: int
    ) -> dict[str, Any]:
        reasons = params.get("SuppressedReasons") or []
        try:
            self.state.suppression.set_reasons(reasons)
        except ValueError as exc:
            raise ApiError(400, "BadRequestException", str(exc)) from None
        return {}


def _no_tenant(params: dict[str, Any]) -> None:
    tenant = params.get("TenantName")
    if tenant:
        raise ApiError(404, "NotFoundException", f"Tenant {tenant} does not exist.")


def _not_found(address: str) -> str:
    return f"Email address {address} does not exist on your suppression list."


def _date(value: Any, member: str) -> float | None:
    """A query-string timestamp (ISO 8601 as botocore sends it, or unix seconds)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "BadRequestException", f"Invalid value for {member}.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
