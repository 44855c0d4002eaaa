import click
from flask.cli import with_appcontext

from dashboard.incomplete_orders.jobs import cleanup_run


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
    counts = cleanup_run(days=days, dry_run=dry_run)
    prefix = "Would " if dry_run else ""
    click.echo(
        f"{prefix}expire {counts['expired']:,} stale open incomplete orders; "
        f"{prefix.lower()}delete {counts['deleted']:,} expired or cancelled ones past retention."
    )
