"""The shop's tests: its logic directly, and the HTTP API through a real server on a free port."""

import json
import threading
import urllib.error
import urllib.request

import pytest

import shop
from app import ShopServer


def test_order_with_coupon_is_discounted():
    # 2 apples (240) + 1 pear (90) = 330, WELCOME10 takes 10%: 33.
    assert shop.order_total(1) == {"order_id": 1, "subtotal": 330, "discount": 33, "total": 297}


def test_unknown_order_has_no_total():
    assert shop.order_total(99) is None


def test_coupon_discount_rounds_down():
    assert shop.apply_coupon(999, shop.Coupon("X", 10)) == 99


# Not covered on purpose: orders without a coupon and GET /health. The demo's
# scenarios (see scenarios/README.md) hide their bugs in exactly these gaps.


@pytest.fixture
def server(tmp_path):
    srv = ShopServer(0, str(tmp_path / "app.log"))  # port 0: the OS picks a free one
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(srv, path):
    url = f"http://127.0.0.1:{srv.server_address[1]}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_user_found(server):
    assert get(server, "/users/1") == (200, shop.USERS[1])


def test_unknown_user_is_404(server):
    assert get(server, "/users/42") == (404, {"error": "no such user"})


def test_order_total_over_http(server):
    status, body = get(server, "/orders/1/total")
    assert status == 200 and body["total"] == 297


def test_every_request_gets_an_access_line(server):
    get(server, "/users/1")
    get(server, "/nope")
    lines = [json.loads(line) for line in open(server.log_path)]
    assert [(r["level"], r["path"], r["status"]) for r in lines] == [("info", "/users/1", 200), ("info", "/nope", 404)]
