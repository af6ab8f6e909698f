"""`flask --app aime ...` commands. Thin: each calls a service."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


@click.command("token")
@with_appcontext
def token_command():
    """Print the API token (generating and storing it on first use)."""
    from .auth import ensure_api_token

    click.echo(ensure_api_token(current_app.extensions["aime.config"]))


@click.command("demo-data")
@with_appcontext
def demo_data_command():
    """Load a small, believable collection and listening history."""
    from .services.demo import load_demo_data

    result = load_demo_data(current_app.extensions["aime.config"])
    click.echo(f"demo data: {result['albums']} albums, {result['listens']} listens added")


def register_commands(app: Flask) -> None:
    """Attach every command to the app's CLI."""
    for command in (token_command, demo_data_command):
        app.cli.add_command(command)
