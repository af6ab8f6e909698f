#!/usr/bin/env python
"""Validate that AIME can start here (same checks as `flask --app aime validate`); exit 0 or 1.

Usage: python scripts/validate_startup.py [--json] [--wait SECONDS]
Reads the same environment as the server. A broken configuration is reported as a failed line,
not a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from aime.health.validation import passed_all, render  # noqa: E402
from aime.server.startup import validate_environment  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the validation and print one line per check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to keep retrying an unreachable database")
    args = parser.parse_args(argv)
    steps = validate_environment(wait_seconds=args.wait)
    print(render(steps, as_json=args.json, tty=sys.stdout.isatty()))
    return 0 if passed_all(steps) else 1


if __name__ == "__main__":
    sys.exit(main())
