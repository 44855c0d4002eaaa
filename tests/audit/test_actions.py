"""Every action the code records has words staff can read in the audit log."""

import re
from pathlib import Path

from dashboard.audit.actions import ACTION_LABELS

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
# record(actor, "domain.action", ...) and record_bulk(actor, "domain.action", ...), also
# with the action built by an f-string from a known list (f"incomplete_order.{action}").
RECORDED = re.compile(r'record(?:_bulk)?\(\s*[\w.()]+,\s*f?"([a-z_]+\.[a-z_{}]+)"', re.S)


def recorded_actions():
    found = set()
    for path in DASHBOARD.rglob("*.py"):
        found.update(RECORDED.findall(path.read_text()))
    return found


def test_every_recorded_action_has_a_label():
    actions = {a for a in recorded_actions() if "{" not in a}
    assert len(actions) > 20  # the pattern finds the code's actions at all
    missing = sorted(actions - set(ACTION_LABELS))
    assert missing == [], f"audit actions without a label: {missing}"
