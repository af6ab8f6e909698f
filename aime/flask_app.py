"""The Flask class AIME runs: Flask, minus a per-request cost that never changes an answer."""
from __future__ import annotations

import types
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

import click
from flask import Flask, Response
from flask.cli import AppGroup, FlaskGroup
from werkzeug.datastructures import Headers
from werkzeug.routing import MapAdapter, Rule
from werkzeug.wrappers import Request


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


MAX_KNOWN_HOSTS = 64
_REWRITTEN_HEADERS = frozenset({"location", "content-location"})  # werkzeug rewrites these for the environ


class AimeResponse(Response):
    """Flask's Response, handed to the WSGI server without werkzeug's copy of its headers when nothing in them
    would change.

    werkzeug's `get_wsgi_response` copies the headers (`Headers(self.headers)`, header by header), scans the copy,
    then lists it: about half of `Response.__call__`, which was a tenth of `/live`'s CPU. The copy matters only
    when a header is rewritten for the environ: a Location or Content-Location made absolute, a Content-Length
    removed or computed, entity headers dropped from a 304; and an empty body for HEAD, 1xx, 204 and 304. A
    response with none of those (a buffered body of bytes with its Content-Length, no Location, status 200-599
    but 204 and 304, not HEAD) is listed as is and its body list handed over when nothing waits for its close;
    any other goes through werkzeug. (tests/test_wsgi_response.py compares both for every kind of answer.)
    """

    @classmethod
    def kept(cls, body: bytes, headers: tuple[tuple[str, str], ...]) -> AimeResponse:
        """A response of `body` with `headers`, (name, value) pairs of str that werkzeug's Headers already
        validated (they were read from one): taken as they are, not validated and added one by one again, which
        was most of the cost of a kept answer's response (Headers.extend, 4 headers: ~60 % of 29 us)."""
        fresh = Headers()
        fresh._list = list(headers)  # what Headers.extend builds from valid pairs (test_overridden_internals)
        return cls(body, headers=fresh)

    def get_wsgi_response(self, environ: dict[str, Any]) -> tuple[Any, str, list[tuple[str, str]]]:
        """(body iterable, status line, header list) for the WSGI server, as werkzeug gives them."""
        status = self.status_code
        if status < 200 or status in (204, 304) or environ["REQUEST_METHOD"] == "HEAD" or self.direct_passthrough:
            return super().get_wsgi_response(environ)
        headers = self.headers.to_wsgi_list()  # a new list, as werkzeug's copy is
        sized = False
        for name, _value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                sized = True
            elif lowered in _REWRITTEN_HEADERS:
                return super().get_wsgi_response(environ)
        if not sized and self.automatically_set_content_length and self.is_sequence:
            return super().get_wsgi_response(environ)
        body = self.response
        if type(body) is list and not self._on_close and all(type(chunk) is bytes for chunk in body):
            return body, self.status, headers  # nothing to encode, nothing to close
        return self.get_app_iter(environ), self.status, headers


def _wsgi_string(environ: dict[str, Any], name: str, absent: str | None) -> str | None:
    # As Map.bind_to_environ and Map.bind read it (werkzeug's _wsgi_decoding_dance: latin-1 bytes of UTF-8 text).
    value = environ.get(name)
    return absent if value is None else value.encode("latin1").decode(errors="replace")


class AimeFlask(Flask):
    """Flask, with `ensure_sync` deciding once per function whether it is a coroutine function.

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request (14 times for `/live`,
    about a tenth of its in-process time). The answer is a property of the function's code, so it is kept per
    plain function (a bound method is judged by its function, which a MethodView recreates per request); any
    other callable (a partial, a callable object) is asked every time, as Flask does.

    Its responses are AimeResponse. A request's URL adapter is built from the host worked out once per distinct
    Host header (create_url_adapter). A GET whose kept answer `fast_answers` can give is answered before Flask's
    dispatch (wsgi_app; aime/api/fast_answers.py).
    Its URL rules are LazyBuilderRule: their builders are compiled when first used, not at `create_app`. Its
    commands are AimeCommands.
    """

    url_rule_class = LazyBuilderRule
    response_class = AimeResponse

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cli = AimeCommands(self.cli.name)
        self._coroutine_functions: dict[types.FunctionType, bool] = {}
        # (Host header, scheme, server name, server port) -> (request.host, the adapter's server name)
        self._hosts: dict[tuple[Any, ...], tuple[str, str]] = {}
        self.fast_answers: Any = None  # aime.api.fast_answers.FastAnswers, once the app may have them

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """The WSGI application: a kept answer's GET answered by `fast_answers` when it can, else Flask's."""
        fast = self.fast_answers
        if fast is not None:
            answer = fast.serve(environ, start_response)
            if answer is not None:
                return answer
        return super().wsgi_app(environ, start_response)

    def knows_host(self, environ: dict[str, Any]) -> bool:
        """True when create_url_adapter would bind this environ from a host it already accepted (plain set-up)."""
        return (self._plain_binding() and "HTTP_UPGRADE" not in environ
                and (environ.get("HTTP_HOST"), environ["wsgi.url_scheme"], environ.get("SERVER_NAME"),
                     environ.get("SERVER_PORT")) in self._hosts)

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """The request's URL adapter, as Flask binds it, with the host part remembered per distinct host.

        Flask validates the Host header twice per request (once for `request.host`, once inside
        `Map.bind_to_environ`), then lower-cases and IDNA-encodes it: about a tenth of `/live`'s CPU, the same
        answer for every request to the same host. The first request of a host goes through Flask; later ones
        reuse its two results and bind the rest (method, script name, path, query) as werkzeug does. Only in the
        plain set-up (no TRUSTED_HOSTS, SERVER_NAME, host or subdomain matching, not a protocol upgrade); any
        other request is Flask's. (tests/ops/test_overridden_internals.py compares the two adapters.)
        """
        if request is None or not self._plain_binding() or "HTTP_UPGRADE" in request.environ:
            return super().create_url_adapter(request)
        environ = request.environ
        key = (environ.get("HTTP_HOST"), environ["wsgi.url_scheme"], environ.get("SERVER_NAME"),
               environ.get("SERVER_PORT"))
        known = self._hosts.get(key)
        if known is None:
            adapter = super().create_url_adapter(request)  # raises as Flask does for a bad host: nothing kept
            if len(self._hosts) >= MAX_KNOWN_HOSTS:  # any client can send any Host: keep the table bounded
                self._hosts.clear()
            self._hosts[key] = (request.host, adapter.server_name)
            return adapter
        request.host, server_name = known
        return MapAdapter(self.url_map, server_name, _wsgi_string(environ, "SCRIPT_NAME", "/"),
                          self.url_map.default_subdomain or "", key[1], _wsgi_string(environ, "PATH_INFO", "/"),
                          environ["REQUEST_METHOD"], _wsgi_string(environ, "QUERY_STRING", None))

    def _plain_binding(self) -> bool:
        config = self.config
        return (config["TRUSTED_HOSTS"] is None and config["SERVER_NAME"] is None and not self.url_map.host_matching
                and not self.subdomain_matching)

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func` as is when synchronous, else wrapped to run to completion (Flask's rule, remembered)."""
        target = func.__func__ if isinstance(func, types.MethodType) else func
        if type(target) is not types.FunctionType:
            return super().ensure_sync(func)
        known = self._coroutine_functions.get(target)
        if known is None:
            known = self._coroutine_functions[target] = iscoroutinefunction(func)
        return self.async_to_sync(func) if known else func
