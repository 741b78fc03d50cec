"""Request validation against botocore's own service models, compiled once per operation.

AWS refuses a request with a missing required member, a value of the wrong type or a member
the operation does not know, with ``400 BadRequestException`` naming the member; and, on
arrival, a value over the model's maximum (16 custom headers, 262,145 characters of template
data) or off its pattern, in its own words ("1 validation error detected: Value at
'content.simple.headers' failed to satisfy constraint: ..."), which botocore never checks on
the client. The sandbox does the same so that a toolkit bug shows up locally, not first at AWS.

botocore's ``ParamValidator`` works on Python parameters (bytes for blobs, datetimes for
timestamps) and walks the model on every call. Here the request is JSON as it arrived on the
wire (blobs are base64 text, timestamps are numbers or strings), so each operation's input
shape is compiled once into nested closures that check one decoded JSON value quickly.

Usage::

    validator = OperationValidator(service_model.operation_model("SendEmail"))
    params = validator.params(body_json, uri_params, query_params)   # raises ValidationError
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

Check = Callable[[Any], None]


class ValidationError(ValueError):
    """A request does not fit the operation's input shape; the message names the member.

    Checks raise it with the member's path relative to the value they check; each enclosing
    structure, list or map prepends its part while the error travels up, so nothing builds a
    path string unless a request is actually invalid.
    """

    def __init__(self, template: str, *parts: str) -> None:
        super().__init__(template)
        self.template = template
        self.parts: list[str] = list(parts)

    def prepend(self, part: str) -> ValidationError:
        """Add the enclosing member's name as the error travels up from a nested check."""
        self.parts.insert(0, part)
        return self

    @property
    def path(self) -> str:
        """Dotted member path, e.g. ``Content.Simple.Subject`` or ``Tags[0].Name``."""
        text = ""
        for part in self.parts:
            text += part if part.startswith("[") or not text else "." + part
        return text or "request"

    @property
    def wire(self) -> str:
        """The path as AWS's validation messages write it: ``content.simple.headers.1.name``."""
        names = []
        for part in self.parts:
            if part.startswith("["):
                inner = part[1:-1]
                names.append(f"{int(inner) + 1}.member" if inner.isdigit() else inner.strip("'"))
            else:
                names.append(part[:1].lower() + part[1:])
        return ".".join(names) or "request"

    def __str__(self) -> str:
        return self.template.format(path=self.path, wire=self.wire)


def _type_name(value: Any) -> str:
    return {
        dict: "object",
        list: "list",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _wrong_type(expected: str, value: Any) -> ValidationError:
    return ValidationError(
        "Invalid type for member {path}: expected " + expected + ", got " + _type_name(value)
    )


class _Compiler:
    """Turns botocore shapes into check closures; shared closures for repeated shapes."""

    def __init__(self) -> None:
        self._cache: dict[str, Check] = {}

    def compile(self, shape: Shape) -> Check:
        name = shape.name
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        # A forward reference lets recursive shapes compile: it resolves on first call.
        slot: list[Check] = []

        def forward(value: Any) -> None:
            slot[0](value)

        self._cache[name] = forward
        check = self._build(shape)
        slot.append(check)
        self._cache[name] = check
        return check

    def _build(self, shape: Shape) -> Check:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)  # type: ignore[arg-type]
        if kind == "list":
            return self._list(shape)
        if kind == "map":
            return self._map(shape)
        if kind == "string":
            return self._string(shape)
        if kind in ("integer", "long"):
            return _integer(shape)
        if kind in ("double", "float"):
            return _number
        if kind == "boolean":
            return _boolean
        if kind == "blob":
            return _blob
        if kind == "timestamp":
            return _timestamp
        return _anything  # document and future types: accept

    def _structure(self, shape: StructureShape) -> Check:
        return _structure_check(
            {name: self.compile(member) for name, member in shape.members.items()},
            tuple(shape.required_members),
            bool(shape.metadata.get("union")),
        )

    def _list(self, shape: Any) -> Check:
        item_check = self.compile(shape.member)
        minimum = shape.metadata.get("min")
        maximum = shape.metadata.get("max")

        def check(value: Any) -> None:
            if type(value) is not list:
                raise _wrong_type("list", value)
            if minimum is not None and len(value) < minimum:
                raise ValidationError(
                    "Invalid length for member {path}: at least " + str(minimum) + " item(s)"
                    " required"
                )
            if maximum is not None and len(value) > maximum:
                raise _constraint(f"Member must have length less than or equal to {maximum}")
            for index, item in enumerate(value):
                try:
                    if item is None:
                        raise ValidationError("Invalid null in {path}")
                    item_check(item)
                except ValidationError as exc:
                    raise exc.prepend(f"[{index}]") from None

        return check

    def _map(self, shape: Any) -> Check:
        value_check = self.compile(shape.value)

        def check(value: Any) -> None:
            if type(value) is not dict:
                raise _wrong_type("object", value)
            for key, item in value.items():
                if item is not None:
                    try:
                        value_check(item)
                    except ValidationError as exc:
                        raise exc.prepend(f"[{key!r}]") from None

        return check

    def _string(self, shape: Shape) -> Check:
        enum = frozenset(shape.enum) if shape.enum else None
        minimum = shape.metadata.get("min")
        maximum = shape.metadata.get("max")
        pattern = _pattern(shape.metadata.get("pattern"))
        if enum is None and not minimum and maximum is None and pattern is None:
            return _plain_string

        def check(value: Any) -> None:
            if type(value) is not str:
                raise _wrong_type("string", value)
            if enum is not None and value not in enum:
                raise ValidationError(
                    "Invalid value for member {path}: "
                    + repr(value).replace("{", "{{").replace("}", "}}")
                    + " is not one of "
                    + ", ".join(sorted(enum))
                )
            if minimum is not None and len(value) < minimum:
                raise ValidationError(
                    "Invalid length for member {path}: at least " + str(minimum) + " character(s)"
                    " required"
                )
            if maximum is not None and len(value) > maximum:
                raise _constraint(f"Member must have length less than or equal to {maximum}")
            if pattern is not None and pattern.fullmatch(value) is None:
                raise _constraint(
                    f"Member must satisfy regular expression pattern: {pattern.pattern}"
                )

        return check


def _structure_check(members: dict[str, Check], required: tuple[str, ...], is_union: bool) -> Check:
    def check(value: Any) -> None:
        if type(value) is not dict:
            raise _wrong_type("object", value)
        for key, item in value.items():
            member = members.get(key)
            if member is None:
                raise ValidationError("Unknown member {path}", key)
            if item is not None:
                try:
                    member(item)
                except ValidationError as exc:
                    raise exc.prepend(key) from None
        for key in required:
            if value.get(key) is None:
                raise ValidationError("Missing required member {path}", key)
        if is_union and sum(1 for v in value.values() if v is not None) != 1:
            raise ValidationError("Exactly one member of {path} must be set")

    return check


def _constraint(rule: str) -> ValidationError:
    """A value over a model maximum or off its pattern, in AWS's server-side wording.

    botocore checks only types and minimums on the client; AWS checks the rest on arrival and
    answers ``1 validation error detected: Value at 'content.simple.headers' failed to satisfy
    constraint: ...`` (the path in AWS's camelCase, list items 1-based, as ``{wire}`` below).
    """
    return ValidationError(
        "1 validation error detected: Value at '{wire}' failed to satisfy constraint: "
        + rule.replace("{", "{{").replace("}", "}}")
    )


def _pattern(text: str | None) -> re.Pattern[str] | None:
    """A model's pattern (Java syntax; whole-value match), or None when Python cannot read it."""
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error:  # pragma: no cover - every pattern of the models served compiles today
        return None


def _plain_string(value: Any) -> None:
    if type(value) is not str:
        raise _wrong_type("string", value)


def _integer(shape: Shape) -> Check:
    minimum = shape.metadata.get("min")
    maximum = shape.metadata.get("max")

    def check(value: Any) -> None:
        if type(value) is not int:
            raise _wrong_type("integer", value)
        if minimum is not None and value < minimum:
            raise ValidationError("Invalid value for member {path}: must be >= " + str(minimum))
        if maximum is not None and value > maximum:
            raise _constraint(f"Member must have value less than or equal to {maximum}")

    return check


def _number(value: Any) -> None:
    if type(value) not in (int, float):
        raise _wrong_type("number", value)


def _boolean(value: Any) -> None:
    if type(value) is not bool:
        raise _wrong_type("boolean", value)


def _blob(value: Any) -> None:
    # On the wire a blob is base64 text; the handler that uses it decodes it.
    if type(value) is not str:
        raise _wrong_type("base64 string", value)


def _timestamp(value: Any) -> None:
    if type(value) not in (int, float, str):
        raise _wrong_type("timestamp", value)


def _anything(value: Any) -> None:
    return None


def _from_text(shape: Shape, text: str, name: str) -> Any:
    """Convert a URI / query-string / header value to the member's JSON type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("double", "float"):
            return float(text)
    except ValueError:
        raise ValidationError("Invalid value for member {path}", name) from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValidationError("Invalid value for member {path}", name)
        return text.lower() == "true"
    if kind == "list":
        return [text]
    return text


class OperationValidator:
    """Checks and assembles one operation's input from a rest-json request.

    ``params(body, uri, query, headers)`` returns the operation's input as botocore names it
    (body members, the payload member, and members bound to the URI, query string or
    headers), or raises :class:`ValidationError`.
    """

    def __init__(self, operation: OperationModel, compiler: _Compiler | None = None) -> None:
        self.operation = operation
        compiler = compiler or _Compiler()
        shape = operation.input_shape
        self._uri: dict[str, tuple[str, Shape]] = {}
        self._query: dict[str, tuple[str, Shape]] = {}
        self._headers: dict[str, tuple[str, Shape]] = {}
        self._payload: str | None = None
        self._payload_check: Check | None = None
        self._body_check = _structure_check({}, (), False)
        self._required: tuple[str, ...] = ()
        if shape is None:
            return
        self._required = tuple(shape.required_members)
        payload = shape.serialization.get("payload")
        body_checks: dict[str, Check] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri":
                self._uri[wire] = (name, member)
            elif location == "querystring":
                self._query[wire] = (name, member)
            elif location == "header":
                self._headers[wire.lower()] = (name, member)
            elif location is None and name != payload:
                body_checks[name] = compiler.compile(member)
        if payload is not None:
            self._payload = payload
            self._payload_check = compiler.compile(shape.members[payload])
        # Required members are checked once all locations are merged, in params().
        self._body_check = _structure_check(body_checks, (), False)

    def params(
        self,
        body: Any,
        uri: Mapping[str, str] | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Validate and return the operation's parameters (see class docstring)."""
        params: dict[str, Any]
        if self._payload is not None:
            params = {}
            if (body is not None and body != {}) or self._payload in self._required:
                assert self._payload_check is not None
                if body is None:
                    raise ValidationError("Missing required member {path}", self._payload)
                self._payload_check(body)
                params[self._payload] = body
        else:
            if body is None:
                body = {}
            self._body_check(body)
            params = body
        if uri:
            for wire, text in uri.items():
                name, member = self._uri[wire]
                params[name] = _from_text(member, text, name)
        if query:
            for wire, given in query.items():
                entry = self._query.get(wire)
                if entry is None:  # AWS ignores unknown query parameters
                    continue
                if isinstance(given, list):  # a repeated name: every value of a list member
                    if entry[1].type_name == "list":
                        params[entry[0]] = list(given)
                        continue
                    given = given[-1]
                params[entry[0]] = _from_text(entry[1], given, entry[0])
        if headers and self._headers:
            for wire, (name, member) in self._headers.items():
                if wire in headers:
                    params[name] = _from_text(member, headers[wire], name)
        for key in self._required:
            if params.get(key) is None:
                raise ValidationError("Missing required member {path}", key)
        return params


class ServiceValidators:
    """Lazily compiled :class:`OperationValidator` per operation of one service model."""

    def __init__(self, service_model: Any) -> None:
        self._model = service_model
        self._compiler = _Compiler()
        self._validators: dict[str, OperationValidator] = {}

    def __getitem__(self, operation: str) -> OperationValidator:
        validator = self._validators.get(operation)
        if validator is None:
            validator = OperationValidator(self._model.operation_model(operation), self._compiler)
            self._validators[operation] = validator
        return validator
