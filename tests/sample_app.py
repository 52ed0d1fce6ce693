"""The sample application the diagnose and fix tests break and repair: a recent commit removed a None guard."""

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
