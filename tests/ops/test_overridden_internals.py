"""The gunicorn and flask-smorest internals AIME overrides are still there, in the shape AIME relies on.

AIME subclasses gunicorn's gthread worker (aime/server/worker.py, worker_io.py) and flask-smorest's Api
(ProblemApi._register_responses and register_blueprint in aime/api/__init__.py), and /health reads the workers'
counter files with prometheus_client's private mmap_dict._read_all_values (aime/observability/metrics.py). These
are private APIs that a release may rename or reshape without notice: an override of a method nobody calls any more
is silently dead, a reader of a changed file layout silently wrong. setup.cfg bounds these packages to the series
checked here; when a new release is tried, these tests fail naming what changed.
"""
from __future__ import annotations

import configparser
import inspect
import mmap
import re
import runpy

import pytest
from flask_smorest import Api
from flask_smorest.spec import APISpecMixin
from gunicorn.arbiter import Arbiter
from gunicorn.config import Config as GunicornConfig
from gunicorn.http.body import Body
from gunicorn.http.message import Request
from gunicorn.sock import BaseSocket
from gunicorn.workers import base
from gunicorn.workers.gthread import TConn
from gunicorn.workers.gthread import ThreadWorker as GthreadWorker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from prometheus_client import values as prometheus_values
from prometheus_client.mmap_dict import MmapedDict, _read_all_values, mmap_key

from aime.api import ProblemApi
from aime.observability import metrics
from aime.server.worker import ThreadWorker
from tests.support.servers import ROOT

# What aime/server/worker.py overrides on gthread's worker, with the parameters it expects.
GTHREAD_OVERRIDES = {
    "init_process": ["self"],
    "get_thread_pool": ["self"],
    "set_accept_enabled": ["self", "enabled"],
    "accept": ["self", "listener"],
    "wait_for_and_dispatch_events": ["self", "timeout"],
    "handle": ["self", "conn"],
    "handle_request": ["self", "req", "conn"],
    "handle_error": ["self", "req", "client", "addr", "exc"],
}
# What AIME calls on gunicorn objects without overriding it (the worker, the hooks in aime/server/hooks.py).
GUNICORN_CALLED = [
    (GthreadWorker, "enqueue_req", ["self", "conn"]),
    (GthreadWorker, "handle_exit", ["self", "sig", "frame"]),
    (TConn, "__init__", ["self", "cfg", "sock", "client", "server"]),
    (Body, "__init__", ["self", "reader"]),
    (Arbiter, "halt", ["self", "reason", "exit_status"]),
]
# Where gthread must still call what AIME overrides, and the attributes AIME reads and writes.
GTHREAD_SOURCE_USES = {
    "init_process": ["self.get_thread_pool()"],
    "run": ["self.set_accept_enabled(False)", "self.set_accept_enabled(can_accept)",
            "self.wait_for_and_dispatch_events(timeout=1.0)"],
    "set_accept_enabled": ["self.poller.register(listener, selectors.EVENT_READ, self.accept)"],
    "enqueue_req": ["self.tpool.submit(self.handle, conn)"],
    "handle": ["self.handle_request(req, conn)", "self.handle_error(req, conn.sock, conn.client, e)"],
    "__init__": ["self.nr_conns = 0"],
    # ThreadWorker.handle serves a kept-alive connection's next request itself when it is already read (pipelined):
    # gthread keeps those bytes in the parser's unreader, as its own finish_request checks.
    "finish_request": ["conn.parser.unreader.buf.getvalue()"],
}
# gunicorn.conf.py's hooks: gunicorn checks each one's arity when it is set (a changed arity raises there).
HOOKS = ["on_starting", "when_ready", "post_worker_init", "on_reload", "worker_exit", "child_exit", "worker_abort",
         "on_exit"]


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def _install_requires() -> dict[str, Requirement]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in parser["options"]["install_requires"].splitlines() if line.strip()]
    return {canonicalize_name(Requirement(line).name): Requirement(line) for line in lines}


def _constraint_pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[canonicalize_name(name.strip())] = Version(version.strip())
    return pins


@pytest.mark.parametrize("package", ["gunicorn", "flask-smorest", "prometheus-client"])
def test_setup_cfg_bounds_the_overridden_packages_to_the_series_constraints_txt_pins(package):
    requirement, pinned = _install_requires()[package], _constraint_pins()[package]
    upper = [spec for spec in requirement.specifier if spec.operator == "<"]
    assert upper, f"setup.cfg: {requirement} has no upper bound, yet AIME overrides {package}'s internals"
    assert pinned in requirement.specifier, f"constraints.txt pins {package}=={pinned}, outside {requirement}"


@pytest.mark.parametrize("name", sorted(GTHREAD_OVERRIDES))
def test_gthread_still_has_each_method_aime_overrides_with_the_same_parameters(name):
    upstream = getattr(GthreadWorker, name, None)
    assert upstream is not None, f"gunicorn's gthread ThreadWorker has no {name} any more: AIME's override is dead"
    assert _parameters(upstream) == GTHREAD_OVERRIDES[name], (
        f"gunicorn's ThreadWorker.{name} now takes {inspect.signature(upstream)}; AIME's override expects "
        f"({', '.join(GTHREAD_OVERRIDES[name])})")
    ours = ThreadWorker.__dict__.get(name)
    assert ours is not None and ours is not upstream, f"aime.server.worker.ThreadWorker no longer overrides {name}"
    assert _parameters(ours) == GTHREAD_OVERRIDES[name]


@pytest.mark.parametrize(("owner", "name", "parameters"), GUNICORN_CALLED,
                         ids=[f"{owner.__name__}.{name}" for owner, name, _ in GUNICORN_CALLED])
def test_what_aime_calls_on_gunicorn_keeps_its_parameters(owner, name, parameters):
    function = getattr(owner, name, None)
    assert function is not None, f"gunicorn's {owner.__name__} has no {name} any more"
    assert _parameters(function) == parameters, (
        f"gunicorn's {owner.__name__}.{name} now takes {inspect.signature(function)}, not ({', '.join(parameters)})")


@pytest.mark.parametrize("method", sorted(GTHREAD_SOURCE_USES))
def test_gthread_still_calls_what_aime_overrides(method):
    source = inspect.getsource(getattr(GthreadWorker, method))
    missing = [line for line in GTHREAD_SOURCE_USES[method] if line not in source]
    assert missing == [], f"gunicorn's ThreadWorker.{method} no longer does {missing}: check aime/server/worker.py"


def test_gunicorn_still_writes_a_response_head_then_its_body_through_the_sockets_sendall():
    # PacedSocket.hold_next_send keeps the first sendall of a response (its head) for the next one (its body).
    from gunicorn import util
    from gunicorn.http.wsgi import Response

    assert "util.write(self.sock, util.to_bytestring(header_str" in inspect.getsource(Response.send_headers)
    assert inspect.getsource(Response.write).index("self.send_headers()") < inspect.getsource(
        Response.write).index("self._emit_body(arg)")
    assert "sock.sendall(data)" in inspect.getsource(util.write)


def test_the_gunicorn_attributes_aime_reads_are_still_there():
    assert Request._expected_100_continue is False  # worker_io sends the 100 Continue itself, then clears it
    assert "self.reader = reader" in inspect.getsource(Body.__init__)  # worker_io swaps the body's reader
    assert "self.sock = " in inspect.getsource(BaseSocket.__init__)  # worker_io detaches the listener's fd
    assert "self.wsgi = self.app.wsgi()" in inspect.getsource(base.Worker.load_wsgi)  # hooks.flask_app
    assert isinstance(Arbiter.WORKERS, dict)  # hooks.note_reload lists the workers being replaced
    assert isinstance(GunicornConfig.is_ssl, property)  # the worker paces plain HTTP only
    missing = [name for name in ("threads", "timeout", "workers") if name not in GunicornConfig().settings]
    assert missing == [], f"gunicorn's Config has no {missing} setting any more (the worker reads them)"


def test_gunicorn_conf_installs_aimes_worker_and_every_hook(monkeypatch, tmp_path):
    monkeypatch.setenv("AIME_DATA_DIR", str(tmp_path))
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = GunicornConfig()
    unknown = [name for name in [*HOOKS, "worker_class", "control_socket_disable"] if name not in config.settings]
    assert unknown == [], f"gunicorn no longer knows the settings {unknown} that gunicorn.conf.py sets"
    for name in [*HOOKS, "worker_class", "control_socket_disable"]:
        config.set(name, settings[name])  # as gunicorn loads a config file; a hook of the wrong arity raises here
    assert config.worker_class is ThreadWorker and issubclass(ThreadWorker, GthreadWorker)
    assert [getattr(config, hook) for hook in HOOKS] == [settings[hook] for hook in HOOKS]
    assert config.control_socket_disable is True


def test_flask_smorest_still_registers_its_error_responses_the_way_problem_api_overrides():
    assert _parameters(APISpecMixin._register_responses) == ["self"]
    source = inspect.getsource(APISpecMixin._register_responses)
    missing = [name for name in ("self.DEFAULT_RESPONSE_CONTENT_TYPE", "self.ERROR_SCHEMA") if name not in source]
    assert missing == [], f"flask-smorest's _register_responses no longer reads {missing}: check ProblemApi"
    assert "self._register_responses()" in inspect.getsource(APISpecMixin._init_spec)
    # ProblemApi sets the content type on the instance for the call, then deletes it to fall back to this.
    assert Api.DEFAULT_RESPONSE_CONTENT_TYPE == "application/json"
    assert "_register_responses" in vars(ProblemApi)


def test_flask_smorest_still_registers_a_blueprint_the_way_problem_api_copies():
    # ProblemApi.register_blueprint does these steps itself and leaves the documenting of the views (the last
    # two) to its spec property: a new step here would be silently skipped by AIME.
    assert _parameters(Api.register_blueprint) == ["self", "blp", "parameters", "options"]
    source = inspect.getsource(Api.register_blueprint)
    steps = ['blp_name = options.get("name", blp.name)',
             'self._app.extensions["flask-smorest"]["blp_name_to_api"][blp_name] = self',
             "self._app.register_blueprint(blp, **options)", "blp.register_views_in_doc(",
             'self.spec.tag({"name": blp_name, "description": blp.description})']
    assert [step for step in steps if step not in source] == []
    code = [line.strip() for line in source.split('"""')[2].splitlines() if line.strip()
            and not line.strip().startswith("#")]
    assert len(code) == 11, code  # the five steps (the call to register_views_in_doc spans seven lines)
    assert "register_blueprint" in vars(ProblemApi) and "spec" in vars(ProblemApi)


def test_the_app_runs_problem_api_and_documents_errors_as_problem_json(app):
    api = app.extensions["aime.api"]
    assert type(api) is ProblemApi
    responses = api.spec.to_dict()["components"]["responses"]
    assert {name: list(response["content"]) for name, response in responses.items()} == {
        "DEFAULT_ERROR": ["application/problem+json"], "UNAUTHORIZED": ["application/problem+json"],
        "UNPROCESSABLE_ENTITY": ["application/problem+json"]}
    assert api.DEFAULT_RESPONSE_CONTENT_TYPE == "application/json"  # success responses keep the default


def test_prometheus_clients_private_counter_file_reader_keeps_the_shape_health_reads(tmp_path):
    # aime.observability.metrics._MappedCounters calls _read_all_values(memory, used) on a read-only mapping of
    # each worker's counter_<pid>.db, keeps each sample's `pos` and later reads the value as a double at `pos`;
    # `used` is the int at the start of the file.
    assert _parameters(_read_all_values) == ["data", "used"], (
        f"prometheus_client.mmap_dict._read_all_values now takes {inspect.signature(_read_all_values)}, not "
        "(data, used): check aime/observability/metrics.py")
    assert "'{}_{}.db'.format(file_prefix, pid['value'])" in inspect.getsource(prometheus_values), (
        "prometheus_client no longer names its multiprocess files <kind>_<pid>.db: CounterFiles looks for counter_*")
    writer = MmapedDict(str(tmp_path / "counter_1.db"))
    keys = [mmap_key("aime_http_requests", "aime_http_requests_total", ["endpoint", "status"], [endpoint, status],
                     "HTTP requests served") for endpoint, status in [("/a", "200"), ("/b", "503"), ("/live", "200")]]
    for key, value in zip(keys, [3.0, 2.0, 7.0], strict=True):
        writer.write_value(key, value, 1.5)
    with open(tmp_path / "counter_1.db", "rb") as handle:
        memory = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    used = metrics._INT.unpack_from(memory, 0)[0]
    samples = list(_read_all_values(memory, used))
    assert [len(sample) for sample in samples] == [4, 4, 4], (
        f"_read_all_values now yields {samples[0]!r}, not (key, value, timestamp, pos)")
    assert [(key, value, timestamp) for key, value, timestamp, _pos in samples] == [
        (keys[0], 3.0, 1.5), (keys[1], 2.0, 1.5), (keys[2], 7.0, 1.5)], "the counter file's samples read differently"
    assert [metrics._DOUBLE.unpack_from(memory, pos)[0] for *_rest, pos in samples] == [3.0, 2.0, 7.0], (
        "a sample's pos is no longer the offset of its value: /health would read the wrong bytes")
    assert [metrics._request_sample(key) for key, *_rest in samples] == [(True, False), (True, True), (False, False)]
    memory.close()
    writer.close()


def test_werkzeug_still_compiles_and_calls_its_url_builders_the_way_lazy_builder_rule_defers():
    # aime.flask_app.LazyBuilderRule returns a stand-in from _compile_builder that puts the real builder where
    # Rule.compile puts it; Rule.build must still call that attribute, and Flask must still make its rules from
    # url_rule_class (werkzeug is pinned by constraints.txt through Flask, not bounded in setup.cfg).
    from flask.sansio.app import App
    from werkzeug.routing import Rule

    compile_source = inspect.getsource(Rule.compile)
    for line in ("self._build = self._compile_builder(False).__get__(self, None)",
                 "self._build_unknown = self._compile_builder(True).__get__(self, None)"):
        assert line in compile_source, f"werkzeug's Rule.compile no longer does {line!r}"
    build_source = inspect.getsource(Rule.build)
    assert "self._build_unknown(**values)" in build_source and "self._build(**values)" in build_source
    assert list(inspect.signature(Rule._compile_builder).parameters) == ["self", "append_unknown"]
    assert "self.url_rule_class(" in inspect.getsource(App.add_url_rule)


def test_flask_and_werkzeug_still_bind_a_requests_url_adapter_the_way_aime_flask_rebinds_it():
    # AimeFlask.create_url_adapter keeps request.host and the adapter's server name per host and builds the
    # MapAdapter itself from the environ, as Map.bind_to_environ and Map.bind do (tests/test_url_adapter.py compares
    # the two adapters request by request); a new input to either binding would be missing from AIME's.
    from flask.app import Flask
    from werkzeug.routing import Map, MapAdapter

    assert _parameters(MapAdapter.__init__) == ["self", "map", "server_name", "script_name", "subdomain",
                                                "url_scheme", "path_info", "default_method", "query_args"]
    flask_source = inspect.getsource(Flask.create_url_adapter)
    for line in ('self.config["TRUSTED_HOSTS"]', "request.host = get_host(request.environ, request.trusted_hosts)",
                 'self.config["SERVER_NAME"]', "self.url_map.host_matching", "self.subdomain_matching",
                 "subdomain = self.url_map.default_subdomain or \"\"",
                 "request.environ, server_name=server_name, subdomain=subdomain"):
        assert line in flask_source, f"Flask.create_url_adapter no longer does {line!r}: check AimeFlask"
    # The environ keys each reads: the host's (kept per key by AIME) and the rest (read per request by AIME).
    from werkzeug import wsgi

    host_source = inspect.getsource(wsgi.get_host) + inspect.getsource(wsgi._get_server)
    assert sorted(set(re.findall(r'"([A-Z_]+|wsgi\.[a-z_]+)"', host_source))) == [
        "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme"]
    assert sorted(set(re.findall(r'"([A-Z_]+|wsgi\.[a-z_]+)"', inspect.getsource(Map.bind_to_environ)))) == [
        "HTTP_CONNECTION", "HTTP_UPGRADE", "PATH_INFO", "QUERY_STRING", "REQUEST_METHOD", "SCRIPT_NAME",
        "wsgi.url_scheme"]


def test_flask_sqlalchemy_still_removes_its_session_in_the_one_teardown_aime_overrides():
    # aime.extensions.AimeSQLAlchemy overrides _teardown_session (dead connections, no session opened) and AIME
    # registers no teardown of its own beside it.
    from flask_sqlalchemy import SQLAlchemy

    from aime.extensions import AimeSQLAlchemy

    assert "app.teardown_appcontext(self._teardown_session)" in inspect.getsource(SQLAlchemy.init_app)
    assert _parameters(SQLAlchemy._teardown_session) == _parameters(AimeSQLAlchemy._teardown_session) == [
        "self", "exc"]
    assert "self.session.remove()" in inspect.getsource(SQLAlchemy._teardown_session)


def test_werkzeug_still_builds_a_wsgi_response_the_way_aime_response_skips():
    # aime.flask_app.AimeResponse lists the headers as they are unless werkzeug's get_wsgi_headers would change
    # them; a new rewrite there (another header, another status) would be skipped by AIME.
    from werkzeug.wrappers import Response

    source = inspect.getsource(Response.get_wsgi_headers)
    rewritten = sorted(set(re.findall(r'ikey == "([a-z-]+)"', source)))
    assert rewritten == ["content-length", "content-location", "location"], rewritten
    for line in ("if 100 <= status < 200 or status == 204:", "elif status == 304:",
                 "self.automatically_set_content_length", "and self.is_sequence", "and content_length is None"):
        assert line in source, f"werkzeug's get_wsgi_headers no longer does {line!r}: check AimeResponse"
    assert "headers.to_wsgi_list()" in inspect.getsource(Response.get_wsgi_response)
    app_iter = inspect.getsource(Response.get_app_iter)
    assert 'environ["REQUEST_METHOD"] == "HEAD"' in app_iter and "status in (204, 304)" in app_iter
    assert "ClosingIterator(iterable, self.close)" in app_iter
    assert "self._on_close" in inspect.getsource(Response.close)


def test_werkzeugs_headers_still_keep_their_pairs_in_the_list_aime_response_kept_fills():
    # AimeResponse.kept sets Headers._list to validated (name, value) pairs instead of adding them one by one.
    from werkzeug.datastructures import Headers

    assert "self._list: list[tuple[str, str]] = []" in inspect.getsource(Headers.__init__)
    assert "self._list.append((key, value_str))" in inspect.getsource(Headers.add)
    assert "return iter(self._list)" in inspect.getsource(Headers.__iter__)
    headers = Headers()
    headers._list = [("Content-Type", "text/plain"), ("ETag", '"x"')]
    headers["content-type"] = "application/json"
    assert list(headers) == [("content-type", "application/json"), ("ETag", '"x"')] and headers.get("etag") == '"x"'


def test_gunicorn_still_asks_its_logger_whether_to_work_out_an_access_line():
    # aime.server.access_log.AccessLogger answers access_log_enabled with the access logger's level too.
    from gunicorn.glogging import Logger

    source = inspect.getsource(Logger.access)
    assert source.index("if not self.access_log_enabled:") < source.index("self.atoms(")
    assert isinstance(Logger.access_log_enabled, property)
    assert "self.log.access(resp, req, environ, request_time)" in inspect.getsource(GthreadWorker.handle_request)


def test_flask_still_answers_through_wsgi_app_and_takes_no_hook_after_its_first_request():
    # AimeFlask.wsgi_app answers a kept GET before Flask's dispatch (aime/api/fast_answers.py), which does the work
    # of the hooks the app has when it first learns a URL: none may be added after the first request.
    from flask import Flask
    from flask.sansio.scaffold import setupmethod

    assert "return self.wsgi_app(environ, start_response)" in inspect.getsource(Flask.__call__)
    assert "self._check_setup_finished(f_name)" in inspect.getsource(setupmethod)
    assert "self._got_first_request" in inspect.getsource(Flask._check_setup_finished)
