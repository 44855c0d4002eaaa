from dashboard.outbox.service import insert_ignoring_duplicates, outbox_row
from dashboard.extensions import db
def test_many(app):
    with app.app_context():
        rows=[outbox_row("x", f"k{i}", "a@example.com", "s", "t", "h") for i in range(5)]
        assert insert_ignoring_duplicates(rows[:3]) == 3
        assert insert_ignoring_duplicates(rows) == 2
        db.session.commit()
