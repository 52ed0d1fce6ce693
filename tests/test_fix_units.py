"""Pure parts of the fix step: edit application, the gate, failure comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_cli.config import PolicySection
from agent_cli.fix import gate
from agent_cli.fix.edits import EditRejected, plan_edits, replace_once
from agent_cli.fix.validate import CommandResult, blocking, failures_in
from agent_cli.llm_schema import Edit

CODE = "def f(x):\n    if x:\n        return 1\n    return 2\n"


def test_exact_then_whitespace_tolerant_match() -> None:
    assert replace_once(CODE, "    return 2", "    return 3", path="a.py").endswith("return 3\n")
    # The model dropped the indentation: matched anyway, re-indented to the file's.
    out = replace_once(CODE, "if x:\n    return 1", "if x is not None:\n    return 1", path="a.py")
    assert "    if x is not None:\n        return 1\n" in out


IF_THEN_RETURN = "def g(x):\n    if x:\n        y = 1\n    return y\n"


def test_tolerant_match_refuses_different_relative_indentation() -> None:
    # `return y` is inside the `if` in the search but outside it in the file.
    search = "if x:\n    y = 1\n    return y"
    with pytest.raises(EditRejected) as err:
        replace_once(IF_THEN_RETURN, search, "if x:\n    y = 2\n    return y", path="g.py")
    message = str(err.value)
    assert "relative indentation differs" in message and "lines 2-4" in message and "copy the lines exactly" in message


def test_tolerant_match_picks_the_place_whose_relative_indentation_agrees() -> None:
    text = IF_THEN_RETURN + "\n\ndef h(x):\n    if x:\n        y = 1\n        return y\n"
    out = replace_once(text, "if x:\n    y = 1\n    return y", "if x:\n    y = 2\n    return y", path="g.py")
    assert out == IF_THEN_RETURN + "\n\ndef h(x):\n    if x:\n        y = 2\n        return y\n"


def test_tolerant_match_of_uniformly_shifted_search_is_reindented() -> None:
    # Every line lost 4 spaces but kept its relative structure: matched and re-indented.
    search = "if x:\n    y = 1\nreturn y"
    out = replace_once(IF_THEN_RETURN, search, "if x:\n    y = 2\nelse:\n    y = 3\nreturn y", path="g.py")
    assert out == "def g(x):\n    if x:\n        y = 2\n    else:\n        y = 3\n    return y\n"
    # And a search indented deeper than the file is shifted back.
    deeper = "        if x:\n            y = 1\n        return y"
    out = replace_once(IF_THEN_RETURN, deeper, "        if x:\n            y = 5\n        return y", path="g.py")
    assert out == "def g(x):\n    if x:\n        y = 5\n    return y\n"


def test_not_found_names_the_closest_lines() -> None:
    with pytest.raises(EditRejected) as err:
        replace_once(CODE, "    return 22", "x", path="a.py")
    assert "not found" in str(err.value) and "closest lines" in str(err.value) and "return 2" in str(err.value)


def test_new_files_only_when_allowed(tmp_path: Path) -> None:
    edits = [Edit(path="new.py", search="", replace="X = 1\n")]
    assert plan_edits(tmp_path, edits, allow_new_files=True) == {"new.py": "X = 1\n"}
    with pytest.raises(EditRejected, match="not allowed"):
        plan_edits(tmp_path, edits, allow_new_files=False)
    (tmp_path / "old.py").write_text("A = 1\n")
    with pytest.raises(EditRejected, match="would overwrite"):
        plan_edits(tmp_path, [Edit(path="old.py", search="", replace="B = 2\n")], allow_new_files=True)


def test_gate_approval_limits_and_secrets(tmp_path: Path) -> None:
    policy = PolicySection(max_files_changed=2)
    files = {"pyproject.toml": "", "app/auth/login.py": "", "app/x.py": "x = 1"}
    result = gate.check(tmp_path, files, 3, 10, policy)
    assert result.ok
    assert any("policy.approval_paths 'pyproject.toml'" in a for a in result.approval)
    assert any("'**/auth/**'" in a for a in result.approval)
    assert any("policy.max_files_changed 2" in a for a in result.approval)
    leaked = gate.check(tmp_path, {"app/x.py": "KEY = 'sk-ant-api03-" + "x" * 30 + "'"}, 1, 50, policy)
    assert not leaked.ok and "secret" in leaked.rejected[0]
    huge = gate.check(tmp_path, {"app/x.py": ""}, gate.MAX_DIFF_LINES + 1, 10, policy)
    assert not huge.ok and "diff size" in huge.rejected[0]
    for path, words in (("/etc/passwd", "absolute"), ("a/../../x", "outside"), (".git/config", ".git"),
                        ("db/migrations/0001.py", "protected"), ("app/billing/x.py", "protected")):
        assert words in gate.check(tmp_path, {path: ""}, 1, 1, policy).rejected[0]


def _result(command: str, code: int | None, output: str = "") -> CommandResult:
    return CommandResult(command, code, code is None, 0.1, output, failures_in(output))


def test_only_new_failures_block() -> None:
    base = [_result("pytest", 1, "FAILED tests/test_a.py::test_old - assert"), _result("mypy", 0)]
    same = [_result("pytest", 1, "FAILED tests/test_a.py::test_old - assert"), _result("mypy", 0)]
    assert blocking(base, same) == []
    new = [_result("pytest", 1, "FAILED tests/test_a.py::test_old\nFAILED tests/test_b.py::test_new"), _result("mypy", 1, "app/x.py:3: error: bad")]
    reasons = blocking(base, new)
    assert any("test_b.py::test_new" in r for r in reasons) and any("mypy" in r for r in reasons)
    opaque = blocking([_result("make check", 2)], [_result("make check", 2)])
    assert opaque and "cannot be compared" in opaque[0]  # fail closed
    assert "timed out" in blocking(base, [_result("pytest", None)])[0]


def test_unparsed_failures_are_compared_by_their_error_lines() -> None:
    base = [_result("make check", 2, "building...\nmake: *** [check] Error 2\nlint: error in module alpha (3 issues)\n")]
    same = [_result("make check", 2, "building...\nmake: *** [check] Error 2\nlint: error in module alpha (4 issues)\n")]
    worse = [_result("make check", 2, "make: *** [check] Error 2\nlint: error in module alpha (3 issues)\nlint: error in module beta (1 issues)\n")]
    assert blocking(base, same) == []  # the same error lines, numbers aside: pre-existing
    reasons = blocking(base, worse)
    assert reasons and "new error lines" in reasons[0] and "beta" in reasons[0]
