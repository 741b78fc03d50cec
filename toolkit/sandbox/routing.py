"""Routing for the sandbox's HTTP API: ``(method, path)`` → the operation, from botocore's models.

Each operation of a service model is routed by its modeled ``requestUri`` (static paths by a
dict lookup, paths with ``{labels}`` by a regex, most literal text first), so the sandbox
answers on exactly the paths of the installed botocore's models (SES's list operations,
which moved from GET to POST in botocore 1.43.105, are added for both forms by
:mod:`.ses_resources`).

Usage::

    router = Router()
    router.add_service(service_model, {"SendEmail": handler}, style="ses")
    route, labels = router.match("POST", "/v2/email/outbound-emails")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from toolkit.sandbox.validation import OperationValidator, ServiceValidators

__all__ = ["Handler", "Route", "Router"]

Handler = Callable[[dict[str, Any], int], Any]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of one service: how to validate it, who handles it, what it answers."""

    service: str
    operation: str
    style: str  # "ses" or "pinpoint": the error body shape
    status: int
    validator: OperationValidator | None
    handler: Handler | None


class Router:
    """Maps ``(method, path)`` to a :class:`Route`, using each operation's modeled URI."""

    def __init__(self) -> None:
        self._static: dict[tuple[str, str], Route] = {}
        # method -> [(pattern, literal length, route, regex group -> URI label)]
        self._dynamic: dict[str, list[tuple[re.Pattern[str], int, Route, dict[str, str]]]] = {}

    def add_service(
        self, service_model: Any, handlers: Mapping[str, Handler], *, style: str
    ) -> None:
        """Route every operation of ``service_model``; those without a handler answer 501."""
        validators = ServiceValidators(service_model)
        service = service_model.service_name
        for name in service_model.operation_names:
            operation = service_model.operation_model(name)
            method = operation.http["method"].upper()
            uri = operation.http["requestUri"].split("?", 1)[0]
            handler = handlers.get(name)
            route = Route(
                service,
                name,
                style,
                int(operation.http.get("responseCode", 200)),
                validators[name] if handler is not None else None,
                handler,
            )
            if "{" not in uri:
                self._static[(method, uri)] = route
                continue
            literal = 0
            pattern = "^"
            labels: dict[str, str] = {}  # group names cannot hold "-", URI labels can
            for part in re.split(r"(\{[^}]+\})", uri):
                if part.startswith("{"):
                    label = part[1:-1]
                    greedy = label.endswith("+")
                    label = label.rstrip("+")
                    group = re.sub(r"\W", "_", label)
                    labels[group] = label
                    pattern += f"(?P<{group}>{'.+' if greedy else '[^/]+'})"
                else:
                    literal += len(part)
                    pattern += re.escape(part)
            pattern += "$"
            self._dynamic.setdefault(method, []).append(
                (re.compile(pattern), literal, route, labels)
            )
        for routes in self._dynamic.values():
            routes.sort(key=lambda entry: -entry[1])  # most literal text first

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route and its URI labels (percent-decoded, by wire name), or None."""
        route = self._static.get((method, path))
        if route is not None:
            return route, {}
        for pattern, _, candidate, names in self._dynamic.get(method, ()):
            found = pattern.match(path)
            if found is not None:
                return candidate, {
                    names[group]: unquote(value) for group, value in found.groupdict().items()
                }
        return None
