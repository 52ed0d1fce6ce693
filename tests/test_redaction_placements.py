"""Nothing leaves the machine unredacted: every secret shape, in every place it can ride out, against the bytes sent.

One scenario carries the whole table of shapes (tests/secret_shapes.py) at once:
in a text log line and its exception (so in the issue title too), in a JSON log
line, in the culprit's code window and the whole file the fix prompt carries,
in validation output fed back to the model, and in model answers that end up in
the commit message. The local Messages-API server records every request body.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess

from tests.conftest import Project, commit, git
from tests.fake_anthropic import FakeAnthropic, tool_reply
from tests.sample_app import PYTEST, VIEWS_BAD
from tests.secret_shapes import CODE_SHAPES, SHAPES
from tests.test_fix import GUARD_REPLACE, GUARD_SEARCH, WRONG_REPLACE, configure

ONE_LINE = [(kind, text) for kind, text, _ in SHAPES if "\n" not in text]
ALL_SECRETS = [secret for _, _, secret in SHAPES + CODE_SHAPES]


def _as_literal(texts: list[str]) -> str:
    """The texts verbatim in the file (a raw string keeps it importable), as code would hold them."""
    body = "\n".join(texts)
    assert '"""' not in body
    return f'EXAMPLES = r"""\n{body}\n"""\n'


def test_every_shape_is_redacted_in_every_placement(project: Project, app: dict) -> None:
    root = project.root
    # The code window and the whole file: shapes as comments right below the culprit line.
    views = VIEWS_BAD + "\n\n" + _as_literal([text for _, text, _ in CODE_SHAPES] + [text for _, text, _ in SHAPES])
    (root / "app" / "views.py").write_text(views)
    # Validation output: printed on every run, in two halves so each fits the output tail sent back.
    texts = [text for _, text, _ in SHAPES + CODE_SHAPES]
    half = len(texts) // 2
    (root / "shapes_a.txt").write_text("\n".join(texts[:half]) + "\n")
    (root / "shapes_b.txt").write_text("\n".join(texts[half:]) + "\n")
    commit(root, "shapes")
    git(root, "push", "-q", "origin", "main")
    joined = " | ".join(text for _, text in ONE_LINE)
    (root / "logs" / "app.log").write_text(
        f"2026-11-21 10:00:01,000 ERROR app.views: request failed {joined}\n"
        "Traceback (most recent call last):\n"
        '  File "/app/app/views.py", line 6, in get_item\n'
        '    return {"name": item.name}, 200\n'
        f"AttributeError: 'NoneType' object has no attribute 'name' {joined}\n"
    )
    (root / "logs" / "json.log").write_text(json.dumps({
        "level": "error", "time": "2026-11-21T10:00:02Z", "msg": f"upstream failed {joined}",
        "err": {"type": "RuntimeError", "message": joined, "stack": f"RuntimeError: {joined}\n    at handler (/app/src/server.js:10:5)"},
    }) + "\n")
    cat = ["cat shapes_a.txt; grep -q GOOD_FIX app/views.py", "cat shapes_b.txt; grep -q GOOD_FIX app/views.py"]
    env = {"ANTHROPIC_API_KEY": "test-key"}
    with FakeAnthropic() as api:
        configure(project, f'[llm]\nbase_url = "{api.base_url}"\n[fix]\nrevert_max_age_h = 0\n', commands=[PYTEST, *cat])
        scanned = project.cli("--json", "scan").json()
        assert len(scanned["new_issues"]) >= 2, scanned
        leaky = " ; ".join(text for _, text in ONE_LINE[:20])  # the model echoes secrets back
        api.script.extend([tool_reply("report_diagnosis", {
            "root_cause": f"item is None; saw {leaky}", "affected_files": ["app/views.py"], "fix_strategy": "guard",
            "confidence": 0.85, "requires_human_approval": False, "estimated_fix_minutes": 5})] * len(scanned["new_issues"]))
        assert project.cli("--json", "diagnose", env=env).exit_code == 0
        issue = next(i["id"] for i in scanned["new_issues"] if "AttributeError" in i["title"])
        api.script.extend([
            tool_reply("propose_fix", {"summary": "guard", "confidence": 0.9,
                                       # breaks test_found: a new failure, so the validation output goes back to the model
                                       "edits": [{"path": "app/views.py", "search": GUARD_SEARCH, "replace": WRONG_REPLACE}]}),
            tool_reply("propose_fix", {"summary": f"guard item {ONE_LINE[0][1]}", "confidence": 0.9, "edits": [
                {"path": "app/views.py", "search": GUARD_SEARCH, "replace": GUARD_REPLACE + "  # GOOD_FIX"}]}),
        ])
        result = project.cli("--json", "fix", str(issue), env=env)
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert [a["outcome"] for a in data["attempts"]] == ["failed", "committed"]
    # The secrets really were there to leak: in the stored validation output and the log files.
    stored = sqlite3.connect(project.state).execute("SELECT validation FROM fixes WHERE attempt = 1 AND issue_id = ?", [issue]).fetchone()[0]
    logs = (root / "logs" / "app.log").read_text() + (root / "logs" / "json.log").read_text()
    for _, text, secret in SHAPES + CODE_SHAPES:
        assert secret in stored, secret
    for _, text in ONE_LINE:
        assert text in logs or json.dumps(text)[1:-1] in logs, text
    sent = b"\n".join(api.raw_bodies)
    prompts = [r["messages"][0]["content"] for r in api.requests]
    assert any("why the previous attempt failed" in p for p in prompts)  # validation output went back
    assert any("file app/views.py" in p for p in prompts)  # the whole file went
    message = subprocess.run(["git", "log", "-1", "--format=%B", data["branch"]], cwd=root, capture_output=True, text=True).stdout
    leaked = [(kind, _around(sent.decode(), secret) or _around(message, secret)) for kind, _, secret in SHAPES + CODE_SHAPES
              if secret.encode() in sent or secret in message]
    assert leaked == [], f"{len(leaked)} of {len(ALL_SECRETS)} shapes left the machine: {leaked}"


def _around(text: str, secret: str) -> str:
    at = text.find(secret)
    return "" if at < 0 else text[max(0, at - 80): at + len(secret) + 20]
