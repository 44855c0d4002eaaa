"""The columns a line item has wherever it appears (carts, orders)."""

from dashboard.extensions import db


class LineItemColumns:
    sku = db.Column(db.String(64), nullable=False)
    name = db.Column(db.String(200), nullable=False)
    quantity = db.Column(db.Integer, nullable=False)
    unit_price = db.Column(db.BigInteger, nullable=False)  # minor units

    @property
    def line_total(self):
        return self.quantity * self.unit_price

    def copy_fields(self):
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
        }
