"""Command line: the alerts commands (registered on the `clausewatch` group): the outbox, the channels, a test."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from monitor.cli import Context, cli, pass_context
from monitor.cli.options import console, err_console, json_option, print_json, print_table
from monitor.errors import ConfigError, ExitCode, UsageError
from monitor.timestamps import now_iso


def _require_config(obj: Context):  # type: ignore[no-untyped-def]
    config = obj.alerts_config()
    if config is None:
        raise ConfigError("no clausewatch.yaml here: write one (see the README, section Alerts) "
                          "or name it with --config PATH")
    return config


@cli.group(invoke_without_command=True)
@click.option("--pending", is_flag=True, help="Only notifications not sent yet (pending, sending, failed).")
@click.option("--retry", is_flag=True, help="Send every pending and failed notification now, ignoring the "
                                            "backoff (also those that reached max_attempts).")
@click.option("--channel", metavar="NAME", help="Only this channel.")
@click.option("--limit", default=50, show_default=True, help="How many notifications to show.")
@json_option("Print the notifications as one JSON array.")
@click.pass_context
def alerts(ctx: click.Context, pending: bool, retry: bool, channel: str | None, limit: int, as_json: bool) -> None:
    """The alert outbox: every notification with its channel, status, attempts and last error.

    Notifications are written with the events they announce and sent after the commit by `run`,
    `daemon` and `ingest`; a failed one is retried on later runs with backoff. Secrets never show.

    \b
    Examples:
      clausewatch alerts                 # the 50 newest notifications
      clausewatch alerts --pending       # what has not gone out yet, and why
      clausewatch alerts --retry         # send what is pending or failed, now
      clausewatch alerts channels        # the channels and routes of clausewatch.yaml
      clausewatch alerts test team-slack # send a sample message
    """
    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.obj
    config = obj.alerts_config()
    if retry:
        _retry_outbox(obj, channel)
        if not pending:
            return
    from monitor.alerts.outbox import list_notifications
    from monitor.store import session_scope

    with session_scope(obj.engine()) as session:
        rows = list_notifications(session, pending=pending, channel=channel, limit=limit)
    mask = config.mask if config is not None else (lambda text: text)
    for row in rows:
        if row["last_error"]:
            row["last_error"] = mask(row["last_error"])
    if as_json:
        print_json(rows)
        return
    print_table(_outbox_table(rows, pending))


def _retry_outbox(obj: Context, channel: str | None) -> None:
    """Send every pending and failed notification now (of one channel, or all); exit 1 when a channel failed."""
    from monitor.alerts.outbox import deliver_outbox

    config = _require_config(obj)
    report = deliver_outbox(obj.engine(), config, retry=True, channels=[channel] if channel else None)
    for error in report.errors:
        err_console.print(f"[red]alert channel failed[/] {error}", soft_wrap=True, markup=True,
                          highlight=False)
    console.print(f"retried: {report.line()}")
    if report.errors:
        sys.exit(ExitCode.PROBLEM)


def _outbox_table(rows: list[dict[str, Any]], pending: bool) -> Table:
    title = f"{len(rows)} {'unsent ' if pending else ''}notifications" + (" (newest first)" if rows else "")
    table = Table("id", "created", "channel", "what", "status", "tries", "last error / sent", title=title)
    for row in rows:
        what = row["source"] or ""
        if row["type"] == "clause_change":
            what += f" {row['clause']} {row['direction']}"
        else:
            what += f" {row['type']}"
        if row["delivery"] != "immediate":
            what += f" (digest per {row['delivery']})"
        status = Text(row["status"], {"sent": "green", "failed": "red"}.get(row["status"], ""))
        if row["status"] == "failed" and not row["next_attempt_at"]:
            status += " (gave up)"
        detail = row["last_error"] or ""
        if row["status"] == "sent":
            detail = f"sent {row['sent_at']}"
        elif row["next_attempt_at"]:
            detail += f"\nnext try after {row['next_attempt_at']}"
        table.add_row(str(row["id"]), row["created_at"], row["channel"], what, status, str(row["attempts"]),
                      detail)
    return table


@alerts.command("channels")
@pass_context
def channels_command(obj: Context) -> None:
    """The channels, routes and operators route of clausewatch.yaml, secrets masked.

    \b
    Example:
      clausewatch --config /etc/clausewatch.yaml alerts channels
    """
    config = _require_config(obj)
    table = Table("channel", "kind", "sends to", title=f"{len(config.channels)} channels ({config.path})")
    for name in config.channels:
        table.add_row(name, config.channels[name].kind, config.mask(config.notifier(name).describe()))
    print_table(table)
    routes = Table("route", "channels", "sources / providers", "categories", "directions", "delivery",
                   title=f"{len(config.routes)} routes")
    for position, route in enumerate(config.routes, start=1):
        routes.add_row(route.name or f"#{position}", ", ".join(route.channels),
                       ", ".join(route.sources + route.providers) or "all", ", ".join(route.categories) or "all",
                       ("answer changes: " + ", ".join(route.uses)) if route.uses else ", ".join(route.directions),
                       route.delivery if route.delivery == "immediate" else f"digest per {route.digest}")
    if config.operators is not None:
        routes.add_row("operators", ", ".join(config.operators.channels), "all", "-",
                       ", ".join(config.operators.notices), "immediate")
    print_table(routes)
    if config.base_url:
        console.print(f"history links: {config.base_url}{config.history_path}")


@alerts.command("test")
@click.argument("channel", metavar="CHANNEL")
@click.option("--notice", is_flag=True, help="Send a sample 'source failing' notice instead of a clause change.")
@pass_context
def test_command(obj: Context, channel: str, notice: bool) -> None:
    """Send a sample message through CHANNEL now (not through the outbox), to check the set-up.

    Exit code 0 when the channel took it, 1 when it failed (the error is shown, secrets masked).

    \b
    Examples:
      clausewatch alerts test legal-email
      clausewatch alerts test ops-webhook --notice
    """
    from monitor.alerts.base import Message, message_id
    from monitor.alerts.render import sample_event

    config = _require_config(obj)
    if channel not in config.channels:
        raise UsageError(f"no channel {channel!r} in {config.path} (channels: {', '.join(config.channels) or 'none'})")
    now = now_iso()
    item = sample_event()
    if notice:
        item = {"type": "source_failing", "source": "example-terms", "provider": "Example AI",
                "title": "Terms of Use (test message)", "url": "https://example.com/terms", "failures_in_a_row": 3,
                "failure": "http_error", "error": "HTTP 503 (this is a test message)", "at": now}
    else:
        item["observed_at"] = now
        item["history_url"] = config.history_url(item["source"], item["key"])
    message = Message(id=message_id(channel, f"test/{now}"), items=(item,), channel=channel)
    notifier = config.notifier(channel)
    try:
        notifier.deliver(message)
    except Exception as error:  # shown to the user, masked
        err_console.print(f"[red]failed[/] {channel} ({notifier.kind}): "
                          f"{config.mask(str(error) or type(error).__name__)}", markup=True, soft_wrap=True,
                          highlight=False)
        sys.exit(ExitCode.PROBLEM)
    console.print(f"sent a sample to {channel} ({notifier.kind}): {config.mask(notifier.describe())}; "
                  f"message id {message.id}")
