"""The CSVs for finance: streamed, neutralised against formulas (csv_export), days in the
shop's zone, money as minor units and as a decimal with its currency."""

from dashboard.csv_export import stream_csv
from dashboard.money import csv_amount

RECOVERY_COLUMNS = (
    "day",
    "abandoned",
    "recoverable",
    "emailed",
    "clicked",
    "recovered",
    "recovered_clicked",
    "recovered_revenue",
    "net_recovered_revenue",
    "late",
    "self_converted",
    "lost",
    "still_open",
    "provisional",
)
STEP_COLUMNS = (
    "step",
    "sent",
    "failed",
    "withdrawn",
    "clicked",
    "recovered",
    "recovered_revenue",
    "unsubscribed",
)


def _filename(kind, reports):
    r = reports.range
    return f"{kind}-{r.first.isoformat()}-to-{r.last.isoformat()}.csv"


def recovery_csv(reports):
    header = []
    for name in RECOVERY_COLUMNS:
        if name == "recovered_revenue":
            header += ["recovered_revenue_minor", "recovered_revenue"]
        elif name == "net_recovered_revenue":
            header += ["net_recovered_revenue_minor", "net_recovered_revenue", "currency"]
        else:
            header.append(name)

    def rows():
        for day, currency, t, provisional in reports.recovery_csv_rows():
            counts = t.counts if t else {}

            def count(name, counts=counts):
                return counts.get(name, 0)

            gross = t.money["recovered_revenue"].get(currency, 0) if t else 0
            net = t.money["net_recovered_revenue"].get(currency, 0) if t else 0
            yield (
                day.isoformat(),
                count("abandoned"),
                count("recoverable"),
                count("emailed"),
                count("clicked"),
                count("recovered"),
                count("recovered_clicked"),
                gross,
                csv_amount(gross, currency),
                net,
                csv_amount(net, currency),
                currency,
                count("late"),
                count("self_converted"),
                count("lost"),
                count("still_open"),
                "yes" if provisional else "no",
            )

    return stream_csv(_filename("recovery", reports), header, rows())


def steps_csv(reports):
    header = [
        *STEP_COLUMNS[:-2],
        "recovered_revenue_minor",
        "recovered_revenue",
        "currency",
        "unsubscribed",
    ]
    currency = reports.settings.currency

    def rows():
        for row in reports.steps():
            yield (
                row["step"],
                row["sent"],
                row["failed"],
                row["withdrawn"],
                row["clicked"],
                row["recovered"],
                row["revenue"],
                csv_amount(row["revenue"], currency),
                currency,
                row["unsubscribed"],
            )

    return stream_csv(_filename("steps", reports), header, rows())


ABANDONMENT_BY = ("stage", "value_band", "customer", "weekday_hour", "sku")


def abandonment_csv(reports, by):
    if by == "weekday_hour":
        heat = reports.weekday_hours()
        header = ["weekday", "hour", "abandoned"]
        rows = (
            (name, hour, heat["grid"][index][hour])
            for index, name in enumerate(heat["weekdays"])
            for hour in range(24)
        )
    elif by == "sku":
        header = ["sku", "name", "carts", "units", "recovered"]
        rows = (
            (r["sku"], r["name"], r["carts"], r["units"], r["recovered"])
            for r in reports.top_skus(limit=100)
        )
    else:
        header = [by, "label", "abandoned", "recovered"]
        report = {
            "stage": reports.by_stage,
            "value_band": reports.by_value_band,
            "customer": reports.by_customer,
        }[by]
        rows = ((r["value"], r["label"], r["abandoned"], r["recovered"]) for r in report())
    return stream_csv(_filename(f"abandonment-{by}", reports), header, rows)


def returns_csv(reports):
    header = [
        "day",
        "requests",
        "units",
        "approved",
        "rejected",
        "received",
        "completed",
        "refunded_minor",
        "refunded",
        "currency",
    ]
    currency = reports.settings.currency

    def rows():
        for row in reports.returns().by_day():
            yield (
                row["day"].isoformat(),
                row["requests"],
                row["units"],
                row["approved"],
                row["rejected"],
                row["received"],
                row["completed"],
                row["refunded"],
                csv_amount(row["refunded"], currency),
                currency,
            )

    return stream_csv(_filename("returns", reports), header, rows())


def holdout_csv(reports):
    """The holdout's comparison per day and currency: each group's carts, conversions and
    revenue (the emailed group also with how many were actually emailed)."""
    header = [
        "day",
        "held_out",
        "held_out_converted",
        "held_out_revenue_minor",
        "held_out_revenue",
        "not_held_out",
        "not_held_out_emailed",
        "not_held_out_converted",
        "not_held_out_revenue_minor",
        "not_held_out_revenue",
        "currency",
        "provisional",
    ]

    def rows():
        for day, currency, t, provisional in reports.recovery_csv_rows():
            counts = t.counts if t else {}
            held = t.money["held_out_revenue"].get(currency, 0) if t else 0
            emailed = t.money["not_held_out_revenue"].get(currency, 0) if t else 0
            yield (
                day.isoformat(),
                counts.get("held_out", 0),
                counts.get("held_out_converted", 0),
                held,
                csv_amount(held, currency),
                counts.get("not_held_out", 0),
                counts.get("not_held_out_emailed", 0),
                counts.get("not_held_out_converted", 0),
                emailed,
                csv_amount(emailed, currency),
                currency,
                "yes" if provisional else "no",
            )

    return stream_csv(_filename("holdout", reports), header, rows())
