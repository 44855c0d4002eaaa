import click
from flask.cli import with_appcontext

from dashboard.analytics.definitions import AnalyticsSettings
from dashboard.analytics.rollup import frozen_before, update_analytics
from dashboard.timeutil import utcnow


@click.command("update-analytics")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Recompute every closed shop day from this date (YYYY-MM-DD) on.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be recomputed; change nothing.")
@with_appcontext
def update_analytics_command(since, dry_run):
    """Refresh the daily analytics rollups."""
    settings = AnalyticsSettings.from_config()
    now = utcnow()
    result = update_analytics(
        settings, since=since.date() if since else None, now=now, dry_run=dry_run
    )
    would = "Would store" if dry_run else "Stored"
    click.echo(f"{would} the abandonment time of {result.abandoned:,} carts.")
    if result.days:
        span = f"{result.days[0]:%Y-%m-%d} to {result.days[-1]:%Y-%m-%d}"
        click.echo(
            f"{'Would recompute' if dry_run else 'Recomputed'} {len(result.days):,} days ({span})."
        )
    else:
        click.echo("No day to recompute.")
    if result.return_days:
        click.echo(
            f"{'Would recompute' if dry_run else 'Recomputed'} the returns of "
            f"{len(result.return_days):,} days."
        )
    if result.kept:
        click.echo(
            f"Kept the stored figures of {len(result.kept):,} days before "
            f"{frozen_before(settings, now):%Y-%m-%d}: their expired and cancelled carts are "
            f"deleted after RETENTION_DAYS ({settings.retention_days}), so a recount would "
            "shrink them."
        )
