"""Typed endpoint parameters: a handler's signature is its parameter declaration.

    @api.get("users/{user_id}")
    async def get_user(ctx: ApiRequest, *, user_id: int, client_gravatar: Json[bool] = True) -> Payload:

Every keyword-only parameter is read from the form body, then the query
string, as Zulip does. ``Json[T]`` values are JSON text (bools, ints, lists,
dicts); plain ``str`` values are taken as sent. ``Annotated[T, ApiParam(...)]``
adds aliases and limits. Names that appear in the path template come from the
path. A parameter without a default is required.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import operator
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar, Union

from zulipd.errors import JsonableError, RequestConfusingVar, RequestVariableMissing

T = TypeVar("T")


class _JsonMarker:
    def __repr__(self) -> str:
        return "JSON"


JSON_ENCODED = _JsonMarker()

# A parameter whose value is JSON text: Json[bool], Json[list[int]], ...
Json = Annotated[T, JSON_ENCODED]


@dataclasses.dataclass(frozen=True)
class ApiParam:
    """Extra facts about one parameter."""

    aliases: tuple[str, ...] = ()
    # The name in the request, when it differs from the Python name.
    whence: str | None = None
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None


_MISSING: Any = object()


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


# What a table parameter that was not sent arrives as (None can be a real value).
ABSENT: Any = _Absent()


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    python_name: str
    request_names: tuple[str, ...]
    annotation: Any
    json_encoded: bool
    default: Any
    options: ApiParam
    from_path: bool

    @property
    def required(self) -> bool:
        return self.default is _MISSING


def describe_parameters(function: Callable[..., Any], path_names: Sequence[str]) -> list[ParamSpec]:
    hints = typing.get_type_hints(function, include_extras=True)
    specs = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        annotation, extras = _split_annotation(hints[parameter.name])
        json_encoded = JSON_ENCODED in extras
        options = next((extra for extra in extras if isinstance(extra, ApiParam)), ApiParam())
        _check_supported(annotation, f"{function.__qualname__}({parameter.name})")
        name = options.whence or parameter.name
        specs.append(
            ParamSpec(
                python_name=parameter.name,
                request_names=(name, *options.aliases),
                annotation=annotation,
                json_encoded=json_encoded,
                default=_MISSING if parameter.default is inspect.Parameter.empty else parameter.default,
                options=options,
                from_path=parameter.name in path_names,
            )
        )
    return specs


def _split_annotation(annotation: Any) -> tuple[Any, list[Any]]:
    """The type without its Annotated extras, and the extras; ``Json[int] | None`` included."""
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        inner, more = _split_annotation(base)
        return inner, [*extras, *more]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        bases, extras = [], []
        for option in typing.get_args(annotation):
            base, more = _split_annotation(option)
            bases.append(base)
            extras += more
        if extras:
            return functools.reduce(operator.or_, bases), extras
    return annotation, []


def _check_supported(annotation: Any, where: str) -> None:
    """Fail at import, not at request time, on a type check_value cannot check."""
    origin = typing.get_origin(annotation)
    if annotation is Any or annotation in (int, bool, str, float, type(None), list, dict) or origin is Literal:
        return
    if origin in (Union, types.UnionType, list, dict):
        for argument in typing.get_args(annotation):
            _check_supported(argument, where)
        return
    if isinstance(annotation, type) and issubclass(annotation, int):
        return
    raise TypeError(f"{where}: unsupported parameter type {annotation!r}")


def table_parameters(table: Mapping[str, tuple[Any, Any]]) -> list[ParamSpec]:
    """Optional parameters for each ``name: (type, default)`` of a settings table.

    Text values (``str`` and string literals) are taken as sent; everything
    else is JSON, as in Zulip. A parameter that was not sent arrives as ABSENT.
    """
    specs = []
    for name, (annotation, _) in table.items():
        literal_values = typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
        textual = annotation is str or (literal_values and all(isinstance(value, str) for value in literal_values))
        specs.append(
            ParamSpec(
                python_name=name,
                request_names=(name,),
                annotation=annotation,
                json_encoded=not textual,
                default=ABSENT,
                options=ApiParam(),
                from_path=False,
            )
        )
    return specs


def extract_parameters(
    specs: Sequence[ParamSpec],
    body: Mapping[str, str],
    query: Mapping[str, str],
    path: Mapping[str, Any],
) -> tuple[dict[str, Any], set[str]]:
    """The handler's keyword arguments, and the request names they consumed."""
    values: dict[str, Any] = {}
    used: set[str] = set()
    for spec in specs:
        if spec.from_path:
            values[spec.python_name] = path[spec.python_name]
            continue
        present = [name for name in spec.request_names if name in body or name in query]
        if len(present) > 1:
            raise RequestConfusingVar(present[0], present[1])
        if not present:
            if spec.required:
                raise RequestVariableMissing(spec.request_names[0])
            values[spec.python_name] = spec.default
            continue
        name = present[0]
        used.add(name)
        raw = body[name] if name in body else query[name]
        values[spec.python_name] = _convert(spec, name, raw)
    return values, used


def _convert(spec: ParamSpec, var_name: str, raw: str) -> Any:
    if spec.json_encoded:
        try:
            value = json.loads(raw)
        except ValueError:
            raise JsonableError(f"{var_name} is not valid JSON") from None
    else:
        value = raw
    value = check_value(var_name, value, spec.annotation)
    options = spec.options
    if options.max_length is not None and isinstance(value, str) and len(value) > options.max_length:
        raise JsonableError(f"{var_name} is too long (limit: {options.max_length} characters)")
    if isinstance(value, int) and not isinstance(value, bool):
        if options.min_value is not None and value < options.min_value:
            raise JsonableError(f"{var_name} is too small")
        if options.max_value is not None and value > options.max_value:
            raise JsonableError(f"{var_name} is too large")
    return value


_ARTICLES = {int: "an integer", bool: "a boolean", str: "a string", float: "a float", list: "a list", dict: "a dict"}


# typing's introspection is slow, and every parameter of every request goes through it.
_cached_origin = functools.lru_cache(maxsize=1024)(typing.get_origin)
_cached_args = functools.lru_cache(maxsize=1024)(typing.get_args)


def _origin(annotation: Any) -> Any:
    try:
        return _cached_origin(annotation)
    except TypeError:  # an unhashable annotation
        return typing.get_origin(annotation)


def _type_args(annotation: Any) -> tuple[Any, ...]:
    try:
        return _cached_args(annotation)
    except TypeError:
        return typing.get_args(annotation)


_PLAIN = frozenset({str, int, bool})


def check_value(var_name: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against a type annotation; return it (ints widened to float where asked)."""
    if type(value) is annotation and annotation in _PLAIN:
        # Most parameters: a string, an integer or a boolean, exactly (a bool is no int here).
        return value
    origin = _origin(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        options = _type_args(annotation)
        if value is None and type(None) in options:
            return None
        if type(value) in _PLAIN and type(value) in options:
            return value  # exactly one of the options (``Json[int] | None`` given an int)
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return check_value(var_name, value, option)
            except JsonableError as error:
                errors.append(error)
        raise errors[0]
    if origin is Literal:
        # Equal is not enough: 1.0 == 1 and True == 1, but neither is the literal 1.
        if any(type(value) is type(option) and value == option for option in _type_args(annotation)):
            return value
        raise JsonableError(f"Invalid {var_name}")
    if origin is list or annotation is list:
        if not isinstance(value, list):
            raise JsonableError(f"{var_name} is not a list")
        (item_type,) = _type_args(annotation) or (Any,)
        return [check_value(f"{var_name}[{index}]", item, item_type) for index, item in enumerate(value)]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise JsonableError(f"{var_name} is not a dict")
        _, item_type = _type_args(annotation) or (str, Any)
        return {key: check_value(f"{var_name}[{json.dumps(key)}]", item, item_type) for key, item in value.items()}
    if annotation is type(None):
        if value is None:
            return None
        raise JsonableError(f"{var_name} is not null")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise JsonableError(f"{var_name} is not a float")
    if annotation in (int, bool, str):
        if isinstance(value, annotation) and not (annotation is int and isinstance(value, bool)):
            return value
        raise JsonableError(f"{var_name} is not {_ARTICLES[annotation]}")
    if isinstance(annotation, type) and issubclass(annotation, int):  # an IntEnum such as Role
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return annotation(value)
            except ValueError:
                raise JsonableError(f"Invalid {var_name}") from None
        raise JsonableError(f"{var_name} is not an integer")
    raise TypeError(f"unsupported parameter type {annotation!r}")
