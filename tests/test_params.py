"""Parameter values checked against their annotations (zulipd.app.params.check_value)."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from zulipd.app.params import check_value
from zulipd.errors import JsonableError


@pytest.mark.parametrize(
    ("value", "annotation"),
    [
        ("text", str), (5, int), (True, bool), (5, int | None), (None, int | None), (True, bool | None),
        ("a", int | str), (2, float), ("a", Literal["a"]),
    ],
)  # fmt: skip
def test_values_that_fit(value: Any, annotation: Any) -> None:
    assert check_value("x", value, annotation) == value


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        (True, int, "x is not an integer"),
        (1, bool, "x is not a boolean"),
        (5, str, "x is not a string"),
        ("5", int, "x is not an integer"),
        (False, float, "x is not a float"),
        (True, Literal[1], "Invalid x"),
        # A bool is no int, and an int no bool, when the type is optional too.
        (True, int | None, "x is not an integer"),
        (1, bool | None, "x is not a boolean"),
        ([1, True], list[int], "x[1] is not an integer"),
    ],
)
def test_values_that_do_not(value: Any, annotation: Any, message: str) -> None:
    with pytest.raises(JsonableError) as raised:
        check_value("x", value, annotation)
    assert raised.value.msg == message
