"""The shop's business logic: users, orders, coupons. Prices are in cents."""

from dataclasses import dataclass, field


@dataclass
class Coupon:
    code: str
    discount: int  # percent off the subtotal


@dataclass
class Order:
    id: int
    user_id: int
    items: list[tuple[str, int]] = field(default_factory=list)  # (sku, quantity)
    coupon: str | None = None


USERS = {
    1: {"id": 1, "name": "Example User One", "email": "one@example.com"},
    2: {"id": 2, "name": "Example User Two", "email": "two@example.com"},
}
PRICES = {"apple": 120, "pear": 90, "plum": 60}
COUPONS = {"WELCOME10": Coupon("WELCOME10", 10)}
ORDERS = {
    1: Order(1, user_id=1, items=[("apple", 2), ("pear", 1)], coupon="WELCOME10"),
    2: Order(2, user_id=2, items=[("plum", 3)]),  # no coupon
}


MIN_CATALOGUE = 10  # readiness: a shop with fewer products has not finished loading


def health() -> tuple[int, dict]:
    """What GET /health answers: 200 once the catalogue is loaded, 503 before."""
    if len(PRICES) < MIN_CATALOGUE:
        return 503, {"status": "unavailable", "reason": "catalogue not loaded"}
    return 200, {"status": "ok"}


def find_user(user_id: int) -> dict | None:
    return USERS.get(user_id)


def find_coupon(code: str | None) -> Coupon | None:
    return COUPONS.get(code) if code else None


def apply_coupon(subtotal: int, coupon: Coupon | None) -> int:
    """The discount in cents; no coupon, no discount."""
    if coupon is None:
        return 0
    return subtotal * coupon.discount // 100


def order_total(order_id: int) -> dict | None:
    """Subtotal, discount and total of an order; None for an unknown order."""
    order = ORDERS.get(order_id)
    if order is None:
        return None
    subtotal = sum(PRICES[sku] * quantity for sku, quantity in order.items)
    discount = apply_coupon(subtotal, find_coupon(order.coupon))
    return {"order_id": order.id, "subtotal": subtotal, "discount": discount, "total": subtotal - discount}
