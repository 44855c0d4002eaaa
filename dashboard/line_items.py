"""Line items wherever they appear (carts, orders): their columns, and the plain value
the storefront sends for one."""

from dataclasses import dataclass

from dashboard.extensions import db


@dataclass
class ItemSnapshot:
    """One line as the storefront reports it: a cart's or an order's."""

    sku: str
    name: str
    quantity: int
    unit_price: int  # minor units


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
