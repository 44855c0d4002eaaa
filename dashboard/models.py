"""Imports every model so that Flask-Migrate and relationships see all tables."""

from dashboard.audit.models import AuditEvent, AuditEventTarget
from dashboard.auth.models import LoginFailure, Staff
from dashboard.incomplete_orders.models import (
    IncompleteOrder,
    IncompleteOrderItem,
    IncompleteOrderNote,
)
from dashboard.orders.models import Order, OrderItem

__all__ = [
    "AuditEvent",
    "AuditEventTarget",
    "IncompleteOrder",
    "IncompleteOrderItem",
    "IncompleteOrderNote",
    "LoginFailure",
    "Order",
    "OrderItem",
    "Staff",
]

from dashboard.api_keys.models import ApiKey, ApiRequestCount  # noqa: E402

__all__ += ["ApiKey", "ApiRequestCount"]

from dashboard.outbox.models import OutboxMessage  # noqa: E402
from dashboard.recovery.models import RecoveryAttempt, Suppression  # noqa: E402

__all__ += ["OutboxMessage", "RecoveryAttempt", "Suppression"]

from dashboard.jobs.models import JobRun, SchedulerLease  # noqa: E402

__all__ += ["JobRun", "SchedulerLease"]

from dashboard.returns.models import (  # noqa: E402
    ReturnEvent,
    ReturnLine,
    ReturnNote,
    ReturnRequest,
)

__all__ += ["ReturnEvent", "ReturnLine", "ReturnNote", "ReturnRequest"]

from dashboard.analytics.models import (  # noqa: E402
    HourDay,
    RecoveryDay,
    ReturnDay,
    RolledDay,
    SkuDay,
    StepDay,
)

__all__ += ["HourDay", "RecoveryDay", "ReturnDay", "RolledDay", "SkuDay", "StepDay"]
