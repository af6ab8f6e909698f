"""The Flask class AIME runs: Flask, minus a per-request cost that never changes an answer."""
from __future__ import annotations

import types
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup
from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A werkzeug Rule whose URL builders are compiled at their first use (url_for), not when the rule is added.

    werkzeug's `Rule.compile`, run by `add_url_rule`, writes and compiles the Python source of two builder functions
    per rule (one appending unknown arguments as a query string, one not): about 70 % of `create_app`'s CPU with
    AIME's 124 rules (29 of 41 ms), paid by every gunicorn worker, `flask` command and test app, though few rules
    are ever built. Here each builder is a stand-in that, at its first call, has werkzeug's own `_compile_builder`
    compile the real one, puts it where werkzeug keeps it and calls it: the same function, compiled later. Two
    threads building the same rule at once each compile it; both results are the same builder.
    (tests/ops/test_overridden_internals.py checks werkzeug still compiles and calls its builders this way.)
    """

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        attribute = "_build_unknown" if append_unknown else "_build"

        def build_first(rule: Rule, /, **values: Any) -> tuple[str, str]:
            real = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, attribute, real)
            return real(**values)

        return build_first


class AimeCommands(AppGroup):
    """The app's `flask` commands, holding back the part of the app's set-up that only some of them need.

    `flask --app aime COMMAND` builds the app before click says which command runs (FlaskGroup.get_command), so
    create_app leaves all but the core (migrations, the API, pages, health, background services) to `defer`: it is
    added when any command not in `light` is looked up, or when the commands are listed, before the lookup; every
    other command then finds the app as a server builds it. A light command (`flask import`) runs without it: about
    0.4 s less start-up, spent importing Alembic, the API, pages, health checks and services it never calls.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.light: set[str] = set()  # commands that need only the app's core: config, logging, database
        self._deferred: Callable[[], None] | None = None

    def defer(self, step: Callable[[], None]) -> None:
        """Run `step` before the first lookup of a command that is not light (or the first listing)."""
        self._deferred = step

    def complete(self) -> None:
        """Run the deferred step now, once."""
        step, self._deferred = self._deferred, None
        if step is not None:
            step()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, the app completed first unless the command is light."""
        if cmd_name not in self.light:
            self.complete()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, the app completed first (a deferred step may add commands)."""
        self.complete()
        return super().list_commands(ctx)


def loading_for_a_command() -> bool:
    """Whether the `flask` command line is building the app to look up one of the app's own commands (which one
    it does not say yet); `flask run`, `shell` and `routes` build it inside their own command, as any server does."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and isinstance(ctx.command, FlaskGroup)


class AimeFlask(Flask):
    """Flask, with `ensure_sync` deciding once per function whether it is a coroutine function.

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request (14 times for `/live`,
    about a tenth of its in-process time). The answer is a property of the function's code, so it is kept per
    plain function (a bound method is judged by its function, which a MethodView recreates per request); any
    other callable (a partial, a callable object) is asked every time, as Flask does.

    Its URL rules are LazyBuilderRule: their builders are compiled when first used, not at `create_app`. Its
    commands are AimeCommands.
    """

    url_rule_class = LazyBuilderRule

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cli = AimeCommands(self.cli.name)
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
