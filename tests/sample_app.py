"""The sample application the diagnose and fix tests break and repair: a recent commit removed a None guard."""

import sys

VIEWS_GOOD = '''from app.repo import find


def get_item(item_id):
    item = find(item_id)
    if item is None:
        return {"error": "not found"}, 404
    return {"name": item.name}, 200
'''
VIEWS_BAD = VIEWS_GOOD.replace('''    if item is None:
        return {"error": "not found"}, 404
''', "")
# Committed long before the error, so only the guard's removal is recent.
OLD_COMMIT_DATE = {"GIT_AUTHOR_DATE": "2026-09-01T10:00:00Z", "GIT_COMMITTER_DATE": "2026-09-01T10:00:00Z"}
REPO_PY = '''class Item:
    def __init__(self, name):
        self.name = name


ITEMS = {1: Item("apple")}


def find(item_id):
    return ITEMS.get(item_id)
'''
TESTS = '''from app.views import get_item


def test_found():
    assert get_item(1) == ({"name": "apple"}, 200)


def test_missing():
    assert get_item(99) == ({"error": "not found"}, 404)
'''
TRACE = """2026-11-21 10:00:01,000 ERROR app.views: request failed "GET /api/items/99" status=500
Traceback (most recent call last):
  File "/app/app/views.py", line 6, in get_item
    return {"name": item.name}, 200
AttributeError: 'NoneType' object has no attribute 'name'
"""
PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider tests"
