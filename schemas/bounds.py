"""Overlong values cut at their schema bound instead of failing, while a record is being processed.

A field's bound is the `max_length` its model declares (Keyword: 1,024 characters, LongKeyword:
65,536, bounded lists such as `x509.alternative_names`). Outside `cutting()` an overlong value is a
validation error as usual (configuration, alerts, stored state). Inside it, i.e. while
`pipeline.process` normalizes and enriches one record, every model built from `CutAtBounds`
(all event models and the normalizers' input models) retries once with each value that was only
too long cut at its bound, and remembers the cut values; `truncated_paths` then names the event
fields that hold them, for `secmon.truncated`. Any other error still fails as before.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Self

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

LENGTH_ERRORS = frozenset({"string_too_long", "too_long"})


class Cuts:
    """The values cut while processing one record: strings by value, lists by equality."""

    def __init__(self) -> None:
        self.strings: set[str] = set()
        self.lists: list[list[Any]] = []

    def __bool__(self) -> bool:
        return bool(self.strings or self.lists)


_CUTS: ContextVar[Cuts | None] = ContextVar("secmon_cuts", default=None)


class cutting:  # noqa: N801 - used like a function: `with cutting() as cuts:`
    """Within the block, values over their schema bound are cut and recorded instead of failing.

    A class rather than @contextmanager: it runs once per record, the generator version cost more."""

    def __enter__(self) -> Cuts:
        cuts = Cuts()
        self._token = _CUTS.set(cuts)
        return cuts

    def __exit__(self, *exc_info: object) -> None:
        _CUTS.reset(self._token)


class CutAtBounds(BaseModel):
    """Base of models whose overlong values are cut inside `cutting()` (see the module docstring).

    The retry wraps `__init__` and `model_validate` rather than being a pydantic validator: a valid
    value costs nothing (a wrap validator cost ~15% of parse throughput); nested input comes with
    the error's full location, so the outermost call cuts it."""

    def __init__(self, /, **data: Any) -> None:
        # BaseModel.__init__'s own call, without a second frame: this runs for every model built
        try:
            self.__pydantic_validator__.validate_python(data, self_instance=self)
        except ValidationError as exc:
            fitted = _fit_or_none(data, exc)
            if fitted is None:
                raise
            self.__pydantic_validator__.validate_python(fitted, self_instance=self)

    # as on BaseModel.__init__: validation from a dict (model_validate, nested input) need not call
    # this __init__, so it keeps its context (e.g. zeek's timezone) and its speed
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """`BaseModel.model_validate`, cutting overlong values inside `cutting()`."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            fitted = _fit_or_none(obj, exc)
            if fitted is None:
                raise
            return super().model_validate(fitted, **kwargs)


def _fit_or_none(data: Any, exc: ValidationError) -> dict[str, Any] | None:
    cuts = _CUTS.get()
    return None if cuts is None else _fit(data, exc.errors(), cuts)


def _fit(data: Any, errors: list[ErrorDetails], cuts: Cuts) -> Any:
    """A copy of `data` with every too-long value cut to its bound, or None when any error is not
    only a length (or its location cannot be followed)."""
    if not isinstance(data, dict) or not all(e["type"] in LENGTH_ERRORS for e in errors):
        return None
    fitted = dict(data)
    for error in errors:
        if not _cut(fitted, list(error["loc"]), int(error.get("ctx", {})["max_length"]), cuts):
            return None
    return fitted


def _cut(container: Any, loc: list[int | str], bound: int, cuts: Cuts) -> bool:
    """Cut the value at `loc` inside `container` (copying the lists and dicts on the way)."""
    key, rest = loc[0], loc[1:]
    if isinstance(container, dict) and key in container:
        value = container[key]
    elif isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
        value = container[key]
    else:
        return False
    if rest:
        if not isinstance(value, (dict, list)):
            return False
        value = dict(value) if isinstance(value, dict) else list(value)
        container[key] = value
        return _cut(value, rest, bound, cuts)
    if isinstance(value, str):
        container[key] = value[:bound]
        cuts.strings.add(container[key])
    elif isinstance(value, (list, tuple)):
        container[key] = list(value[:bound])
        cuts.lists.append(container[key])
    else:
        return False
    return True


def truncated_paths(model: BaseModel, cuts: Cuts, prefix: str = "") -> set[str]:
    """Dotted (ECS) names of the fields of `model` that hold a value cut under `cuts`."""
    found: set[str] = set()
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        path = f"{prefix}{field.alias or name}"
        if isinstance(value, BaseModel):
            found |= truncated_paths(value, cuts, path + ".")
        elif isinstance(value, str):
            if value in cuts.strings:
                found.add(path)
        elif isinstance(value, list):
            if any(value == cut for cut in cuts.lists) or any(
                isinstance(item, str) and item in cuts.strings for item in value
            ):
                found.add(path)
            for item in value:
                if isinstance(item, BaseModel):
                    found |= truncated_paths(item, cuts, path + ".")
    return found
