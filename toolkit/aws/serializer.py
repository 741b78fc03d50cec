"""Model validation and REST-JSON serialisation compiled once per operation.

botocore's ``ParamValidator`` and ``RestJSONSerializer`` walk the service model for every call:
a method lookup by type name, a report object and several dict copies per value; for a
50-entry ``SendBulkEmail`` or a 100-address Pinpoint ``SendMessages`` that costs more than the
HTTP exchange. The model does not change, so this module turns each shape into a small
closure once:

* :func:`compile_check` → ``check(value) -> bool``: True only when botocore's validator would
  surely accept the value. It is deliberately *stricter* (exact built-in types, no
  file-likes, no timestamp strings): when it says False, the caller runs botocore's own
  validator, which produces the exact ``ParamValidationError`` — or accepts the value, and the
  call proceeds. So validation never accepts anything botocore rejects, and error messages are
  botocore's.
* :class:`CompiledRequest` → the same request dict as ``RestJSONSerializer.serialize_to_request``
  for operations whose inputs live in the body, the URI path or a structure payload (all the
  SES v2 and Pinpoint operations the transports use). Values that need no conversion are
  passed to ``json.dumps`` as they are; blobs, timestamps, floats and renamed members go
  through botocore's own converters. Other operations (query strings, headers, streaming)
  return None from :meth:`CompiledRequest.build` and fall back to botocore's serializer.
  ``tests/unit/test_fastaws.py`` checks byte equality against botocore.

Usage::

    check = compile_check(op_model.input_shape, {})
    request = CompiledRequest.compile(op_model, serializer)   # None when not supported
    if check(params):
        serialized = request.build(params)
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from botocore.model import OperationModel, Shape
from botocore.serialize import RestJSONSerializer
from botocore.utils import is_json_value_header, percent_encode

__all__ = ["CompiledRequest", "compile_check"]

Check = Callable[[Any], bool]
Transform = Callable[[Any], Any]

_NEVER: Check = lambda value: False  # noqa: E731 - "not sure": let botocore decide
_NUMBER_TYPES = (float, int)


def compile_check(shape: Shape, memo: dict[str, Check]) -> Check:
    """A fast "surely valid" predicate for ``shape`` (see the module docstring)."""
    if shape.serialization.get("hostLabel"):
        return _NEVER  # botocore adds an implicit min length for these
    key = shape.name
    if key in memo:
        return memo[key]
    cell: list[Check] = []
    memo[key] = lambda value: cell[0](value)  # recursive shapes refer to themselves
    check = _build_check(shape, memo)
    cell.append(check)
    memo[key] = check
    return check


def _build_check(shape: Shape, memo: dict[str, Check]) -> Check:
    kind = shape.type_name
    minimum = shape.metadata.get("min")
    if is_json_value_header(shape):
        return _NEVER
    if kind == "structure":
        if shape.is_document_type:
            return _NEVER
        members = {name: compile_check(member, memo) for name, member in shape.members.items()}
        required = tuple(shape.metadata.get("required", ()))
        union = shape.is_tagged_union

        def check_structure(value: Any) -> bool:
            if type(value) is not dict or (union and len(value) != 1):
                return False
            for name in required:
                if name not in value:
                    return False
            for name, item in value.items():
                check = members.get(name)
                if check is None or not check(item):
                    return False
            return True

        return check_structure
    if kind == "list":
        item_check = compile_check(shape.member, memo)
        low = minimum if minimum is not None else 0

        def check_list(value: Any) -> bool:
            if type(value) not in (list, tuple) or len(value) < low:
                return False
            return all(item_check(item) for item in value)

        return check_list
    if kind == "map":
        key_check = compile_check(shape.key, memo)
        value_check = compile_check(shape.value, memo)

        def check_map(value: Any) -> bool:
            if type(value) is not dict:
                return False
            return all(key_check(k) and value_check(v) for k, v in value.items())

        return check_map
    if kind == "string":
        if minimum is None:
            return lambda value: type(value) is str
        return lambda value: type(value) is str and len(value) >= minimum
    if kind in ("integer", "long"):
        if minimum is None:
            return lambda value: type(value) is int
        return lambda value: type(value) is int and value >= minimum
    if kind in ("float", "double"):
        low = minimum if minimum is not None else float("-inf")
        return lambda value: type(value) in _NUMBER_TYPES and value >= low
    if kind == "boolean":
        return lambda value: type(value) is bool
    if kind == "blob":
        return lambda value: type(value) in (bytes, bytearray, str)
    if kind == "timestamp":
        return lambda value: isinstance(value, dt.datetime)
    return _NEVER


# -- serialisation ---------------------------------------------------------------------------


def _converts_here(shape: Shape) -> bool:
    """Does this shape itself serialise differently from its Python value?"""
    kind = shape.type_name
    if kind in ("blob", "timestamp", "float", "double"):
        return True
    if kind == "structure" and not shape.is_document_type:
        return any("name" in member.serialization for member in shape.members.values())
    return False


def _children(shape: Shape) -> list[Shape]:
    kind = shape.type_name
    if kind == "structure":
        return [] if shape.is_document_type else list(shape.members.values())
    if kind == "list":
        return [shape.member]
    if kind == "map":
        return [shape.value]
    return []


def _needs_transform(shape: Shape, memo: dict[str, bool]) -> bool:
    """Does any value under ``shape`` serialise differently from its Python form?

    A complete depth-first search: when it finds nothing, nothing is reachable from any shape
    it visited, so all of them are remembered as False (recursive shapes included).
    """
    known = memo.get(shape.name)
    if known is not None:
        return known
    seen = {shape.name}
    stack = [shape]
    while stack:
        current = stack.pop()
        if memo.get(current.name) or _converts_here(current):
            memo[shape.name] = True
            return True
        if memo.get(current.name) is False:
            continue
        for child in _children(current):
            if child.name not in seen:
                seen.add(child.name)
                stack.append(child)
    for name in seen:
        memo[name] = False
    return False


class _Transforms:
    """Per-shape converters from the Python value to what botocore puts in the JSON body."""

    def __init__(self, serializer: RestJSONSerializer) -> None:
        self._serializer = serializer
        self._needs: dict[str, bool] = {}
        self._memo: dict[str, Transform | None] = {}

    def needs(self, shape: Shape) -> bool:
        return _needs_transform(shape, self._needs)

    def of(self, shape: Shape) -> Transform | None:
        """None when the value serialises as it is (the common case)."""
        if not self.needs(shape):
            return None
        key = shape.name
        if key in self._memo:
            return self._memo[key]
        cell: list[Transform] = []
        self._memo[key] = lambda value: cell[0](value)
        built = self._build(shape)
        cell.append(built)
        self._memo[key] = built
        return built

    def _build(self, shape: Shape) -> Transform:
        ser = self._serializer
        kind = shape.type_name
        if kind == "blob":
            return ser._get_base64
        if kind == "timestamp":
            fmt = shape.serialization.get("timestampFormat")
            return lambda value: ser._convert_timestamp_to_str(value, fmt)
        if kind in ("float", "double"):

            def convert_float(value: Any) -> Any:
                out: dict[str, Any] = {}
                ser._serialize_type_float(out, value, shape, "v")
                return out["v"]

            return convert_float
        if kind == "list":
            item = self.of(shape.member)
            assert item is not None
            return lambda value: [item(v) for v in value]
        if kind == "map":
            entry = self.of(shape.value)
            assert entry is not None
            return lambda value: {k: entry(v) for k, v in value.items()}
        return self.structure(shape)

    def structure(self, shape: Shape) -> Transform:
        """A structure's converter (also used for the top-level body, which may need none)."""
        specs: dict[str, tuple[str, Transform | None]] = {}
        for name, member in shape.members.items():
            rename = member.serialization.get("name", name)
            convert = self.of(member)
            if rename != name or convert is not None:
                specs[name] = (rename, convert)
        if not specs:
            return _identity

        def convert_structure(value: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, item in value.items():
                spec = specs.get(name)
                if spec is None:
                    out[name] = item
                else:
                    out[spec[0]] = spec[1](item) if spec[1] is not None else item
            return out

        return convert_structure


def _identity(value: Any) -> Any:
    return value


_LABEL = re.compile(r"{(.*?)}")


class CompiledRequest:
    """``serialize_to_request`` for one REST-JSON operation, without walking the model per call."""

    __slots__ = (
        "_body_transform",
        "_empty_body",
        "_method",
        "_payload",
        "_payload_transform",
        "_uri",
        "_uri_members",
    )

    def __init__(self) -> None:
        self._method = "POST"
        self._uri = ""
        self._uri_members: dict[str, str] = {}  # param name -> template label
        self._payload: str | None = None
        self._payload_transform: Transform | None = None
        self._body_transform: Transform = _identity
        self._empty_body = b""

    @classmethod
    def compile(
        cls, operation: OperationModel, serializer: RestJSONSerializer
    ) -> CompiledRequest | None:
        """None when the operation needs something this fast path does not do."""
        shape = operation.input_shape
        http = operation.http
        if (
            shape is None
            or operation.endpoint  # host prefix
            or "authPath" in http
            or operation.has_streaming_input
            or operation.http_checksum
            or operation.request_compression
        ):
            return None
        self = cls()
        self._method = http.get("method", "POST")
        self._uri = http["requestUri"]
        labels = set(_LABEL.findall(self._uri))
        transforms = _Transforms(serializer)
        body = []
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri":
                if member.type_name != "string" or wire not in labels:
                    return None
                self._uri_members[name] = wire
            elif location is None:
                body.append(name)
            else:
                return None  # headers, query strings: botocore's serializer does those
        if any(label.endswith("+") for label in labels):
            return None
        payload = shape.serialization.get("payload")
        if payload is not None:
            member = shape.members[payload]
            if member.type_name != "structure" or member.is_document_type:
                return None
            self._payload = payload
            self._payload_transform = transforms.of(member)
            self._empty_body = b"{}"
        else:
            self._body_transform = transforms.structure(shape)
            self._empty_body = b"{}" if body else b""
        return self

    def build(self, params: dict[str, Any]) -> dict[str, Any]:
        """The dict botocore's serializer returns: url_path, query_string, method, headers, body.

        ``params`` must already be valid.
        """
        labels: dict[str, str] = {}
        body_kwargs: dict[str, Any] = {}
        uri_members = self._uri_members
        for name, value in params.items():
            if value is None:
                continue
            label = uri_members.get(name)
            if label is not None:
                labels[label] = percent_encode(value)
            else:
                body_kwargs[name] = value
        url_path = self._uri.format(**labels) if labels else self._uri
        if self._payload is not None:
            value = params.get(self._payload)
            if value is None:
                body = self._empty_body
            else:
                convert = self._payload_transform
                body = json.dumps(convert(value) if convert else value).encode()
        elif body_kwargs:
            body = json.dumps(self._body_transform(body_kwargs)).encode()
        else:
            body = self._empty_body
        headers = {"Content-Type": "application/json"} if body else {}
        return {
            "url_path": url_path,
            "query_string": {},
            "method": self._method,
            "headers": headers,
            "body": body,
        }
