"""Dockerfile and docker-compose.yml, checked without a Docker engine: structure, copied files, entrypoint."""
from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml

from tests.support.servers import ROOT

from .conftest import ENTRYPOINT

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def of(keyword: str) -> list[str]:
    """Arguments of every instruction called keyword."""
    return [rest for kw, rest in instructions() if kw == keyword]


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml, parsed."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_copied_file_exists_and_is_not_dockerignored():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    copies = of("COPY")
    assert copies
    for args in copies:
        parts = shlex.split(args)
        assert not any(p.startswith("--from") for p in parts)
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"COPY source {source} does not exist"
            assert source.split("/")[0] not in ignored, f"{source} is excluded by .dockerignore"
    copied = " ".join(copies)
    for needed in ("setup.cfg", "constraints.txt", "aime", "migrations", "wsgi.py", "gunicorn.conf.py",
                   "scripts/docker-entrypoint.sh", "scripts/health-check-robust.sh"):
        assert needed in copied, needed


def test_image_shape():
    assert re.fullmatch(r"python:3\.1[1-9]-slim", of("FROM")[0])
    users = of("USER")
    assert users and users[-1] not in ("root", "0")
    assert any("curl" in run and "apt-get install" in run for run in of("RUN"))
    assert json.loads(of("VOLUME")[0]) == ["/data"]
    env = " ".join(of("ENV"))
    assert "AIME_DATA_DIR=/data" in env and "AIME_BIND=0.0.0.0:8000" in env
    healthcheck = of("HEALTHCHECK")[0]
    assert "--interval=30s" in healthcheck and "--timeout=5s" in healthcheck and "--retries=3" in healthcheck
    assert "health-check-robust.sh health" in healthcheck and "|| exit 1" in healthcheck
    assert json.loads(of("CMD")[0]) == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]


def test_entrypoint_is_the_script_the_tests_run():
    entrypoint = json.loads(of("ENTRYPOINT")[0])
    assert entrypoint == ["scripts/docker-entrypoint.sh"]
    assert (ROOT / entrypoint[0]).resolve() == ENTRYPOINT.resolve()
    assert ENTRYPOINT.stat().st_mode & 0o111  # COPY keeps the executable bit
    text = ENTRYPOINT.read_text()
    assert "db upgrade" in text and "validate" in text and 'exec "$@"' in text


def test_compose_structure(compose):
    services = compose["services"]
    assert set(services) >= {"init-db", "backend", "db"}
    assert services["init-db"]["command"] == ["migrate"]
    backend = services["backend"]
    assert backend["restart"] == "unless-stopped"
    health = backend["healthcheck"]
    assert (health["interval"], health["timeout"], health["retries"], health["start_period"]) == ("30s", "5s", 3, "40s")
    assert "/health" in " ".join(health["test"])
    assert backend["depends_on"]["init-db"]["condition"] == "service_completed_successfully"
    assert backend["depends_on"]["db"] == {"condition": "service_healthy", "required": False}
    assert services["db"]["profiles"] == ["postgres"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name, service in services.items():
        assert service["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}, name
    for name in ("init-db", "backend"):
        assert "aime-data:/data" in services[name]["volumes"]
        assert services[name]["environment"]["AIME_DATA_DIR"] == "/data"
    assert set(compose["volumes"]) == {"aime-data", "pg-data"}
    # stop_grace_period must outlast gunicorn's graceful timeout, or docker kills requests mid-drain.
    grace = int(backend["stop_grace_period"].rstrip("s"))
    default_graceful = int(re.search(r"AIME_GRACEFUL_TIMEOUT:-(\d+)", (ROOT / "docker-compose.yml").read_text())[1])
    assert grace > default_graceful


def test_entrypoint_fails_clearly_without_a_command_or_with_a_bad_setting(tmp_path):
    import subprocess

    result = subprocess.run([str(ENTRYPOINT)], capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/bin:/bin", "AIME_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2
    line = json.loads(result.stdout)
    assert line["level"] == "ERROR" and line["logger"] == "aime.entrypoint"
    assert "no command given" in line["message"]
    result = subprocess.run([str(ENTRYPOINT), "migrate"], capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/bin:/bin", "AIME_DB_WAIT": "soon"})
    assert result.returncode == 2 and "AIME_DB_WAIT must be a whole number" in result.stdout


def _entrypoint_env(tmp_path, database_url: str, wait: str) -> dict:
    import os
    import sys

    return {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "AIME_DB_WAIT": wait,
            "AIME_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url}


def test_entrypoint_fails_clearly_when_the_database_stays_away(tmp_path):
    import subprocess

    from tests.support.servers import free_port

    env = _entrypoint_env(tmp_path, f"postgresql+psycopg://aime@127.0.0.1:{free_port()}/aime", "0")
    result = subprocess.run([str(ENTRYPOINT), "migrate"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["level"] == "ERROR" and last["message"].startswith("database migrations failed after ")
    assert "Connection refused" in result.stderr  # the full error, for the operator


@pytest.mark.postgres
def test_entrypoint_waits_for_a_database_that_starts_after_it(tmp_path, postgres_admin_url):
    """The database comes up while the entrypoint is already retrying: migrations then succeed."""
    import subprocess

    from sqlalchemy.engine import make_url

    from tests.conftest import drop_postgres_database, make_postgres_database
    from tests.support.proxy import TcpProxy
    from tests.support.servers import free_port

    from .conftest import poll

    url = make_postgres_database(postgres_admin_url)
    real = make_url(url)
    port = free_port()
    env = _entrypoint_env(tmp_path, real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False), "120")
    out_path = tmp_path / "entrypoint.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen([str(ENTRYPOINT), "migrate"], stdout=out, stderr=subprocess.STDOUT, env=env)
    forwarder = None
    try:
        poll(lambda: "retrying in 1s" in out_path.read_text(), 60, "a first failed attempt")
        forwarder = TcpProxy(port, (real.host or "127.0.0.1", real.port or 5432)).start()  # the database "starts"
        assert proc.wait(timeout=120) == 0, out_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if forwarder:
            forwarder.stop()
        drop_postgres_database(postgres_admin_url, url)
    lines = [json.loads(line) for line in out_path.read_text().splitlines() if line.startswith("{")]
    assert lines[0]["level"] == "WARNING" and lines[-1]["message"] == "database migrations applied"


NGINX_EXAMPLE = ROOT / "docs" / "examples" / "nginx-two-instances.conf"


def test_compose_scale_profile_is_a_second_instance_and_nginx(compose):
    services = compose["services"]
    backend, second, proxy = services["backend"], services["backend-b"], services["proxy"]
    # Neither starts without --profile scale; the default `docker compose up -d` is unchanged.
    assert second["profiles"] == ["scale"] and proxy["profiles"] == ["scale"]
    assert "profiles" not in backend
    # The second instance is the first one again: same image, settings, data volume, health check, dependencies.
    for key in ("image", "environment", "volumes", "healthcheck", "depends_on", "restart", "stop_grace_period"):
        assert second[key] == backend[key], key
    assert "ports" not in second  # reached only through nginx
    assert backend["environment"]["AIME_TRUSTED_PROXIES"] == "${AIME_TRUSTED_PROXIES:-}"
    assert proxy["depends_on"] == {"backend": {"condition": "service_healthy"},
                                   "backend-b": {"condition": "service_healthy"}}
    assert proxy["ports"] == ["${AIME_PROXY_PORT:-8080}:8080"]
    assert proxy["volumes"] == ["./docs/examples/nginx-two-instances.conf:/etc/nginx/conf.d/default.conf:ro"]
    assert "/live" in " ".join(proxy["healthcheck"]["test"])


def test_nginx_example_balances_the_compose_instances_like_the_benchmark(tmp_path):
    import shutil
    import subprocess

    from bench import scale

    text = NGINX_EXAMPLE.read_text()
    assert "server backend:8000 " in text and "server backend-b:8000 " in text and "listen 8080;" in text
    # Every proxy_* setting documented is the one bench/scale.py measured.
    measured = scale.nginx_config(tmp_path, 8080, [8000, 8001])
    settings = [line.split("#")[0].strip() for line in text.splitlines() if line.strip().startswith("proxy_")]
    assert len(settings) == 9
    for setting in settings:
        assert setting in measured, setting
    binary = scale.nginx_binary() or shutil.which("nginx")
    if binary is None:
        pytest.skip("nginx is not installed: the example's syntax is not checked")
    # nginx -t, with the compose service names (unknown here) replaced by this machine's address.
    body = text.replace("backend-b:8000", "127.0.0.1:8001").replace("backend:8000", "127.0.0.1:8000")
    body = body.replace("listen 8080;", "listen 127.0.0.1:8080;")
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                    f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path}/body;\n"
                    f"proxy_temp_path {tmp_path}/proxy;\n{body}\n}}\n")
    checked = subprocess.run([binary, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
