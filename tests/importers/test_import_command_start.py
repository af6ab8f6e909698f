"""`flask --app aime import` through the real command line: it builds the app without its web layer (AimeCommands),
reports the same counts, and every other command still finds the whole app."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aime import create_app
from tests.conftest import TEST_TOKEN, make_config

ROOT = Path(__file__).resolve().parents[2]
# `python -m flask ARGS` (flask.cli.main), then which of the web layer's modules the process imported.
PROBE = ("import sys\nfrom flask.cli import main\nsys.argv[0] = 'flask'\ntry:\n    main()\nfinally:\n"
         "    print('web layer:', sorted(m for m in ('aime.api', 'aime.web', 'aime.health') if m in sys.modules))\n")
CSV = ("uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n"
       '1600000000,"13 Sep 2020, 12:26",Band,,Album,,Song 1,\n'
       '1600000300,"13 Sep 2020, 12:31",Band,,Album,,Song 2,\n'
       'soon,"13 Sep 2020, 12:36",Band,,Album,,Song 3,\n'
       '1600000900,"13 Sep 2020, 12:41",Other Band,,,,Song 1,\n')


# The same, then whether every object was frozen when the process exited (this handler runs after the app's).
EXIT_PROBE = ("import atexit, gc, sys\nfrom flask.cli import main\nsys.argv[0] = 'flask'\n"
              "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\nmain()\n")


def _flask(database_url: str, data_dir: Path, *args: str, probe: str = PROBE) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "AIME_DATA_DIR": str(data_dir), "AIME_API_TOKEN": TEST_TOKEN,
           "AIME_LOG_LEVEL": "warning"}
    result = subprocess.run([sys.executable, "-c", probe, "--app", "aime", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_and_reimport_run_without_the_web_layer_with_exact_counts(database_url, tmp_path):
    _flask(database_url, tmp_path, "db", "upgrade")
    path = tmp_path / "plays.csv"
    path.write_text(CSV)
    first = _flask(database_url, tmp_path, "import", str(path))
    assert first == ("import 1: done\nformat: lastfm-ghan-csv\nprocessed: 4\nimported: 3\nduplicates: 0\n"
                     "skipped: 0\nerrors: 1\n  error line 4: uts 'soon' is not a timestamp\nweb layer: []\n")
    again = _flask(database_url, tmp_path, "import", str(path))
    assert again == ("import 2: done\nformat: lastfm-ghan-csv\nprocessed: 4\nimported: 0\nduplicates: 3\n"
                     "skipped: 0\nerrors: 1\n  error line 4: uts 'soon' is not a timestamp\nweb layer: []\n")


def test_other_commands_find_the_whole_app(tmp_path):
    url = f"sqlite:///{tmp_path / 'aime.db'}"
    app = create_app(make_config(tmp_path, url))
    routes = _flask(url, tmp_path / "data", "routes").splitlines()
    assert routes[-1] == "web layer: ['aime.api', 'aime.health', 'aime.web']"
    column = routes[0].index("Rule")
    listed_rules = sorted(line[column:].rstrip() for line in routes[2:-1])
    assert listed_rules == sorted(rule.rule for rule in app.url_map.iter_rules())
    listed = _flask(url, tmp_path / "data", "--help")
    assert {"openapi", "validate", "import", "db"} <= set(app.cli.commands)  # openapi: flask-smorest, with the API
    assert all(f"\n  {name} " in listed for name in app.cli.commands)
    assert _flask(url, tmp_path / "data", "openapi", "--help").startswith("Usage: flask openapi")


def test_the_import_command_closes_the_database_then_freezes_its_objects_at_exit(database_url, tmp_path):
    """The interpreter's shutdown then collects nothing; the engine is closed first, so SQLite's last connection
    still checkpoints and removes its WAL. Other commands exit as before."""
    upgrade = _flask(database_url, tmp_path, "db", "upgrade", probe=EXIT_PROBE)
    assert upgrade.endswith("frozen at exit: False\n")
    path = tmp_path / "plays.csv"
    path.write_text(CSV)
    for imported, duplicates in ((3, 0), (0, 3)):
        report = _flask(database_url, tmp_path, "import", str(path), probe=EXIT_PROBE)
        assert report.endswith(f"imported: {imported}\nduplicates: {duplicates}\nskipped: 0\nerrors: 1\n"
                               "  error line 4: uts 'soon' is not a timestamp\nfrozen at exit: True\n")
        if database_url.startswith("sqlite"):
            assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("aime.db")) == ["aime.db"]
