"""The Flask class AIME runs: Flask, minus a per-request cost that never changes an answer."""
from __future__ import annotations

import types
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask


class AimeFlask(Flask):
    """Flask, with `ensure_sync` deciding once per function whether it is a coroutine function.

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request (14 times for `/live`,
    about a tenth of its in-process time). The answer is a property of the function's code, so it is kept per
    plain function (a bound method is judged by its function, which a MethodView recreates per request); any
    other callable (a partial, a callable object) is asked every time, as Flask does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._coroutine_functions: dict[types.FunctionType, bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func` as is when synchronous, else wrapped to run to completion (Flask's rule, remembered)."""
        target = func.__func__ if isinstance(func, types.MethodType) else func
        if type(target) is not types.FunctionType:
            return super().ensure_sync(func)
        known = self._coroutine_functions.get(target)
        if known is None:
            known = self._coroutine_functions[target] = iscoroutinefunction(func)
        return self.async_to_sync(func) if known else func
