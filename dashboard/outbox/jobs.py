"""What the outbox plugs into the app: its delivery job, and the warning pages show when
email is not going out."""

from apscheduler.triggers.interval import IntervalTrigger

from dashboard.jobs.registry import Job, register_job
from dashboard.outbox.delivery import delivery_run, waiting
from dashboard.outbox.health import mail_problems


def register(app):
    app.add_template_global(mail_problems)
    register_job(
        app,
        Job(
            "delivery",
            "Outbox delivery",
            delivery_run,
            trigger=lambda config: IntervalTrigger(seconds=config["DELIVERY_RUN_SECONDS"]),
            schedule=lambda config: f"every {config['DELIVERY_RUN_SECONDS']:,} s",
            preview=lambda: {"waiting": waiting()},
            preview_template="jobs/_preview_delivery.html",
        ),
    )
