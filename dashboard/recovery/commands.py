import click
from flask.cli import with_appcontext

from dashboard.outbox.delivery import delivery_run
from dashboard.recovery.jobs import recovery_run


@click.command("send-recovery-emails")
@click.option(
    "--hours-after",
    type=click.FloatRange(min=0),
    help="Hours of quiet before the first email; later steps keep their spacing after it "
    "(default: the setting).",
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
    counts = recovery_run(
        hours_after=hours_after, max_attempts=max_attempts, dry_run=dry_run, echo=click.echo
    )
    if not dry_run:
        counts.update(delivery_run())
    click.echo(", ".join(f"{name}: {value:,}" for name, value in counts.items()))
