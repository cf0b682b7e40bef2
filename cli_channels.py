"""`flask --app app channels add|list`: messenger channels from the shell, for operations and scripts."""

import json

import click
from flask.cli import AppGroup

from services import channel_setup, channels
from services.errors import ActionError

channels_cli = AppGroup("channels", help="Messenger channels: connect one, list them.")

# command-line option -> credential key (and which kinds use it)
CREDENTIAL_OPTIONS = (
    "token",
    "secret",
    "app_secret",
    "verify_token",
    "phone_number_id",
    "waba_id",
    "access_token",
    "group_id",
    "confirmation",
    "ig_user_id",
)


MODES = tuple(channel_setup.TELEGRAM_MODES)


def _option_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def _uses(kind: str, key: str) -> bool:
    if kind == "telegram" and key == "secret":  # the webhook secret, made for you when not given
        return True
    return any(spec.name == key for spec in channel_setup.KIND_FIELDS[kind])


@channels_cli.command("add")
@click.argument("kind", type=click.Choice(channel_setup.MESSENGER_KINDS))
@click.option("--name", required=True, help="Shown to staff next to each dialog.")
@click.option("--token", help="Telegram / Viber bot token.")
@click.option("--secret", help="VK secret key; for Telegram the webhook secret (made when not given).")
@click.option("--app-secret", help="WhatsApp / Instagram app secret.")
@click.option("--verify-token", help="WhatsApp / Instagram webhook verify token.")
@click.option("--phone-number-id", help="WhatsApp phone number ID.")
@click.option("--waba-id", help="WhatsApp Business Account ID (optional).")
@click.option("--access-token", help="WhatsApp / Instagram / VK access token.")
@click.option("--group-id", help="VK community ID.")
@click.option("--confirmation", help="VK confirmation code.")
@click.option("--ig-user-id", help="Instagram account ID.")
@click.option(
    "--mode", type=click.Choice(tuple(channel_setup.TELEGRAM_MODES)), help="Telegram: webhook or polling."
)
@click.option(
    "--offline", is_flag=True, help="Save without asking the platform whether the credentials work."
)
def add_command(kind, name, mode, offline, **credentials):
    """Connect a messenger channel; prints its uid and webhook URL.

    Without --offline the credentials are first tried against the platform: when it
    refuses, the reason is printed and nothing is saved.
    """
    given = {key: value for key, value in credentials.items() if value}
    unused = [_option_name(key) for key in given if not _uses(kind, key)]
    if unused:
        raise click.UsageError(f"{kind} channels don't use {', '.join(unused)}.")
    if mode and kind != "telegram":
        raise click.UsageError("--mode is for telegram channels only.")
    values = {**given, "mode": mode or ""}
    try:
        settings = channel_setup.clean_settings(kind, values)
        credentials = channel_setup.new_credentials(kind, values)
        channel_setup.check_name(name)
    except ActionError as exc:
        field = getattr(exc, "field", "")
        prefix = (
            f"{_option_name(field)}: " if field in CREDENTIAL_OPTIONS or field in ("name", "mode") else ""
        )
        raise click.ClickException(f"{prefix}{exc}") from exc

    if not offline:
        health = channel_setup.try_credentials(kind, credentials, settings)
        if not health.ok:
            click.echo(f"The platform refused: {health.reason}", err=True)
            raise SystemExit(1)
    channel = channels.create_channel(kind, name.strip(), credentials, settings)
    channel_id, uid, url = channel.id, channel.uid, channels.webhook_url(channel)
    if offline:
        channel_setup.queue_setup(channel_id)
    else:
        from jobs.channels import setup_channel

        setup_channel(channel_id)  # registers the webhook where we do that, and records the check
    click.echo(f"uid: {uid}")
    click.echo(f"webhook URL: {url}")
    if not offline:
        saved = channels.get_channel(channel_id)
        click.echo("health: ok" if not saved.broken else f"health: ! {saved.health_reason}")


@channels_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def list_command(as_json):
    """Every channel: kind, name, uid, on/off, health and webhook URL (never a credential)."""
    rows = [
        {
            "id": c.id,
            "kind": c.kind,
            "name": c.name,
            "uid": c.uid,
            "enabled": c.enabled,
            "health": c.health,
            "health_reason": c.health_reason,
            "health_checked_at": c.health_checked_at.isoformat() if c.health_checked_at else None,
            "last_sync_at": c.last_sync_at.isoformat() if c.last_sync_at else None,
            "webhook_url": channels.webhook_url(c),
        }
        for c in channel_setup.all_channels()
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No channels.")
        return
    for row in rows:
        health = "ok" if row["health"] == "ok" else f"! {row['health_reason'] or row['health']}"
        state = "on" if row["enabled"] else "off"
        click.echo(
            f"{row['id']:>4}  {row['kind']:<9} {row['name']}  uid={row['uid']}  {state}  {health}  "
            f"{row['webhook_url']}"
        )
