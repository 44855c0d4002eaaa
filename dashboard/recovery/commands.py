import click
from flask.cli import with_appcontext

from dashboard.recovery import jobs


@click.command("send-recovery-emails")
@click.option(
    "--hours-after",
    type=click.FloatRange(min=0),
    help="Hours of quiet before the first email (default: the setting).",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 20),
    help="Emails per cart at most (default: the setting).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be sent; change nothing.")
@with_appcontext
def send_recovery_emails_command(hours_after, max_attempts, dry_run):
    """Write the recovery emails that are due to the outbox and deliver them."""
    counts = jobs.recovery_run(
        hours_after=hours_after, max_attempts=max_attempts, dry_run=dry_run, echo=click.echo
    )
    if not dry_run:
        counts.update(jobs.delivery_run())
    click.echo(", ".join(f"{name}: {value:,}" for name, value in counts.items()))


@click.command("cleanup-incomplete-orders")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Expire open carts quiet this many days (default: EXPIRE_AFTER_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Print the counts; change nothing.")
@with_appcontext
def cleanup_command(days, dry_run):
    """Expire stale open incomplete orders; delete old expired and cancelled ones."""
    counts = jobs.cleanup_run(days=days, dry_run=dry_run)
    prefix = "Would " if dry_run else ""
    click.echo(
        f"{prefix}expire {counts['expired']:,} stale open incomplete orders; "
        f"{prefix.lower()}delete {counts['deleted']:,} expired or cancelled ones past retention."
    )
