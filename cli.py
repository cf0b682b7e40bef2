"""Command-line tools: `flask --app app create-user`, `flask --app app seed-demo`."""

import logging

import click
from flask import Flask

from models import ROLES
from services.errors import ActionError


def register_cli(app: Flask) -> None:
    from cli_channels import channels_cli

    app.cli.add_command(channels_cli)

    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True)
    @click.option("--name", default="", help="Shown to colleagues and clients.")
    @click.password_option(help="Asked for when not given.")
    def create_user_command(email, role, name, password):
        """Create a staff account."""
        from services.auth import create_user

        try:
            user = create_user(email, name, password, role)
        except ActionError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"created {user.role} {user.email} (id {user.id})")

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when the database has users.")
    def seed_demo_command(if_empty):
        """Fill the database with the demo salon "Okno Demo" (deterministic)."""
        from services.demo import seed_demo

        created = seed_demo(only_if_empty=if_empty)
        if created:
            click.echo("Demo salon created.")
        else:
            click.echo("Database already has data: demo not seeded.")
        click.echo(
            "Logins (password okno-demo): owner@salon.test, anna@salon.test, "
            "olena@salon.test, master@salon.test"
        )

    @app.cli.command("okno-worker")
    @click.option("--burst", is_flag=True, help="Run what is queued now, then stop.")
    def worker_command(burst):
        """Deliver messages and wake snoozes: reconcile, then work the "okno" queue with its scheduler."""
        from jobs.worker import run_worker

        run_worker(app, burst=burst)

    @app.cli.command("telegram-poll")
    @click.option("--once", is_flag=True, help="One round of getUpdates, then stop.")
    def telegram_poll_command(once):
        """Long-poll Telegram for bots without a webhook; idles quietly when none polls."""
        from jobs.telegram_poll import run_poller

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        run_poller(app, once=once)
