"""The offline analyser on real Python and JS traces of the common error classes."""

from __future__ import annotations

import pytest

from agent_cli.detect.events import parse_block
from agent_cli.diagnose.confidence import adjust
from agent_cli.diagnose.offline import analyse, classify_error

PY = "Traceback (most recent call last):\n  File \"/app/app/views.py\", line 6, in get_item\n    {code}\n{exc}"
JS = "{exc}\n    at handler (/srv/web/src/routes.js:12:5)\n    at process (node:internal/process/task_queues:95:5)"
CASES = [
    ("py-none", PY, "return item.name", "AttributeError: 'NoneType' object has no attribute 'name'", "none-dereference"),
    ("py-none-subscript", PY, "return row['id']", "TypeError: 'NoneType' object is not subscriptable", "none-dereference"),
    ("js-undefined", JS, "", "TypeError: Cannot read properties of undefined (reading 'id')", "undefined-dereference"),
    ("js-null-old", JS, "", "TypeError: Cannot read property 'name' of null", "undefined-dereference"),
    ("py-keyerror", PY, "return cache['items']", "KeyError: 'items'", "missing-key"),
    ("py-index", PY, "return rows[0]", "IndexError: list index out of range", "index-out-of-range"),
    ("py-zero", PY, "return total / count", "ZeroDivisionError: division by zero", "division-by-zero"),
    ("py-arity", PY, "return price(item, 2)", "TypeError: price() takes 1 positional argument but 2 were given", "wrong-arity"),
    ("py-type", PY, "return 'n=' + n", "TypeError: can only concatenate str (not \"int\") to str", "wrong-type"),
    ("js-not-function", JS, "", "TypeError: user.save is not a function", "wrong-type"),
    ("py-import", PY, "from app.util import slugify", "ImportError: cannot import name 'slugify' from 'app.util'", "import-error"),
    ("py-module", PY, "import redis", "ModuleNotFoundError: No module named 'redis'", "import-error"),
    ("js-module", JS, "", "Error: Cannot find module './payments'", "js-module-missing"),
    ("py-timeout", PY, "r = requests.get(url, timeout=5)", "requests.exceptions.ReadTimeout: HTTPSConnectionPool: Read timed out.", "timeout"),
    ("js-timeout", JS, "", "Error: connect ETIMEDOUT 10.0.0.5:5432", "timeout"),
    ("py-connection", PY, "conn = psycopg2.connect(dsn)", "psycopg2.OperationalError: could not connect to server: Connection refused", "connection"),
    ("js-connection", JS, "", "Error: connect ECONNREFUSED 127.0.0.1:6379", "connection"),
]


@pytest.mark.parametrize("name, shape, code, exc, expected", CASES, ids=[c[0] for c in CASES])
def test_error_classes(name: str, shape: str, code: str, exc: str, expected: str) -> None:
    event = parse_block(shape.format(code=code, exc=exc), source="app")
    assert event.exception_type, name
    cls = classify_error(event.exception_type, event.exception_message or event.message)
    assert cls is not None and cls.name == expected
    context = {"exception_type": event.exception_type, "message": event.exception_message or event.message,
               "culprit": {"path": "app/views.py", "line": 6, "function": "get_item", "code": code}}
    answer = analyse(context, None, revert_max_age_h=72)
    assert answer.root_cause and answer.fix_strategy and 0 < answer.confidence <= 0.9
    if expected in ("timeout", "connection", "import-error", "js-module-missing"):
        assert answer.requires_human_approval and answer.confidence < 0.5  # not a code bug it can be sure of


def test_confidence_is_honest_about_evidence() -> None:
    base = {"exception_type": "AttributeError", "message": "'NoneType' object has no attribute 'name'"}
    seen = analyse({**base, "culprit": {"path": "a.py", "line": 1, "function": "f", "code": "return item.name"}}, None, revert_max_age_h=72)
    unseen = analyse({**base, "culprit": None}, None, revert_max_age_h=72)
    unknown = analyse({"exception_type": "WeirdError", "message": "?", "culprit": None}, None, revert_max_age_h=72)
    assert seen.confidence > unseen.confidence > unknown.confidence
    assert unknown.confidence <= 0.2 and unknown.requires_human_approval


def test_recent_suspect_that_changed_the_code_suggests_a_revert() -> None:
    ctx = {"exception_type": "KeyError", "message": "'items'", "culprit": {"path": "a.py", "line": 3, "function": "f", "code": "x['items']"}}
    suspect = {"sha": "ab" * 20, "subject": "refactor", "age_hours": 5.0, "touched_culprit_line": True}
    assert analyse(ctx, suspect, revert_max_age_h=72).fix_strategy.startswith("revert abababababab")
    old = {**suspect, "age_hours": 500.0}
    assert not analyse(ctx, old, revert_max_age_h=72).fix_strategy.startswith("revert")


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"family_fixed": 2}, 0.85),
        ({"family_fixed": 5}, 0.9),
        ({"culprit_path": "app/auth/session.py"}, 0.6),
        ({"culprit_path": "app/payments/charge.py"}, 0.6),
        ({"affected_files": [f"f{i}.py" for i in range(6)]}, 0.7),
        ({"estimated_minutes": 180}, 0.7),
        ({"family_fixed": 9, "culprit_path": "app/views.py"}, 0.9),
    ],
)
def test_confidence_adjustments(kwargs: dict, expected: float) -> None:
    args = {"family_fixed": 0, "culprit_path": "app/views.py", "affected_files": ["app/views.py"], "estimated_minutes": 10, **kwargs}
    final, adjustments = adjust(0.8, **args)
    assert final == pytest.approx(expected)
    assert all(a["reason"] for a in adjustments)


def test_confidence_is_clamped_below_certainty() -> None:
    final, adjustments = adjust(0.93, family_fixed=6, culprit_path=None, affected_files=[], estimated_minutes=1)
    assert final == 0.95 and adjustments[-1]["reason"].startswith("clamped")
    low, _ = adjust(0.1, family_fixed=0, culprit_path="auth/x.py", affected_files=[str(i) for i in range(9)], estimated_minutes=500)
    assert low == 0.0
