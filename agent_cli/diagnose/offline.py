"""The offline analyser: root cause and strategy from the exception class, message and culprit code.

No network. Confidence is honest: higher only when the code at the culprit
line shows the failing operation, lower where it is guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent_cli.llm_schema import DiagnosisAnswer


@dataclass(frozen=True)
class ErrorClass:
    name: str
    types: tuple[str, ...]
    message: re.Pattern[str]
    cause: str
    strategy: str
    confidence: float
    needs_human: bool = False
    minutes: int = 20


_CLASSES: tuple[ErrorClass, ...] = (
    ErrorClass("none-dereference", ("AttributeError", "TypeError"),
               re.compile(r"'NoneType' object (?:has no attribute '(?P<attr>\w+)'|is not (?:subscriptable|iterable|callable))"),
               "a value that can be None is used without a check{where}: {detail}",
               "guard the None case before use: return or raise the function's existing not-found path when it has one, else a clear error",
               0.6),
    ErrorClass("undefined-dereference", ("TypeError",),
               re.compile(r"Cannot read propert(?:y|ies) of (?:undefined|null)(?: \(reading '(?P<attr>[\w$]+)'\))?|Cannot read property '(?P<attr2>[\w$]+)' of (?:undefined|null)|(?:undefined|null) is not an object"),
               "a value that can be undefined or null is dereferenced without a check{where}: {detail}",
               "guard the undefined/null case (optional chaining or an early return of the existing not-found response)",
               0.6),
    ErrorClass("missing-key", ("KeyError",), re.compile(r".*"),
               "a dict lookup assumes a key that is missing{where}: {detail}",
               "use .get() with a safe default, or validate the input and return a client error when the key is absent",
               0.55),
    ErrorClass("index-out-of-range", ("IndexError",), re.compile(r"index out of range|out of range"),
               "a sequence is indexed past its end (often an empty result){where}: {detail}",
               "check the length (or emptiness) before indexing and handle the empty case",
               0.55),
    ErrorClass("division-by-zero", ("ZeroDivisionError",), re.compile(r".*"),
               "a division by a value that can be zero{where}: {detail}",
               "guard the zero divisor and return the neutral value the caller expects",
               0.6),
    ErrorClass("wrong-arity", ("TypeError",),
               re.compile(r"takes (?:from )?\d+ (?:to \d+ )?positional arguments? but \d+ (?:was|were) given|missing \d+ required (?:positional|keyword-only) argument|got an unexpected keyword argument"),
               "a function is called with arguments that do not match its signature{where}: {detail}",
               "align the call with the function's current signature (a recent signature change is the usual cause)",
               0.5),
    ErrorClass("wrong-type", ("TypeError",),
               re.compile(r"unsupported operand type|can only concatenate|must be (?:str|int|real number)|not supported between instances|object cannot be interpreted|is not a function"),
               "an operation receives a value of the wrong type{where}: {detail}",
               "convert or validate the value at its source before the operation",
               0.45),
    ErrorClass("import-error", ("ImportError", "ModuleNotFoundError"), re.compile(r".*"),
               "an import fails{where}: {detail}",
               "fix the import (renamed or moved symbol) or add the missing dependency (dependency changes need approval)",
               0.45, needs_human=True, minutes=30),
    ErrorClass("js-module-missing", ("Error",), re.compile(r"Cannot find module"),
               "a module cannot be resolved{where}: {detail}",
               "fix the import path or add the missing package (dependency changes need approval)",
               0.4, needs_human=True, minutes=30),
    ErrorClass("timeout", ("TimeoutError", "ReadTimeout", "ConnectTimeout", "Timeout", "TimeoutException", "socket.timeout"),
               re.compile(r".*"),
               "a call to a dependency timed out{where}: {detail}",
               "find the slow dependency; add a bounded timeout with retry/backoff or a fallback; this is rarely a code bug",
               0.3, needs_human=True, minutes=60),
    ErrorClass("connection", ("ConnectionError", "ConnectionRefusedError", "OperationalError", "ECONNREFUSED", "ConnectionResetError"),
               re.compile(r".*"),
               "a dependency (database, cache or service) is unreachable{where}: {detail}",
               "check the dependency's health and configuration; code can only add retries or degrade gracefully",
               0.25, needs_human=True, minutes=60),
)
_TIMEOUT_TEXT = re.compile(r"timed? ?out|ETIMEDOUT", re.IGNORECASE)
_CONNECTION_TEXT = re.compile(r"ECONNREFUSED|connection refused|could not connect|ECONNRESET", re.IGNORECASE)


def classify_error(exception_type: str | None, message: str) -> ErrorClass | None:
    short = (exception_type or "").rsplit(".", 1)[-1]
    for cls in _CLASSES:
        if (short in cls.types or (exception_type or "") in cls.types) and cls.message.search(message or ""):
            return cls
    if _TIMEOUT_TEXT.search(message or ""):
        return next(c for c in _CLASSES if c.name == "timeout")
    if _CONNECTION_TEXT.search(message or ""):
        return next(c for c in _CLASSES if c.name == "connection")
    return None


def analyse(context: dict[str, Any], suspect: dict[str, Any] | None, *, revert_max_age_h: float) -> DiagnosisAnswer:
    exc_type = context.get("exception_type")
    message = context.get("message") or ""
    culprit = context.get("culprit")
    where = f" in {culprit['function']} at {culprit['path']}:{culprit['line']}" if culprit else ""
    cls = classify_error(exc_type, message)
    files = [culprit["path"]] if culprit else []
    if cls is None:
        cause = f"{exc_type or 'an error'} is raised{where}: {message[:300]}"
        answer = DiagnosisAnswer(root_cause=cause, affected_files=files,
                                 fix_strategy="no known pattern: a person (or the LLM provider) should look at the code path", confidence=0.2,
                                 requires_human_approval=True, estimated_fix_minutes=60)
    else:
        confidence = cls.confidence
        detail = message[:300]
        code = (culprit or {}).get("code", "")
        match = cls.message.search(message)
        attr = next((g for g in (match.groupdict().values() if match else []) if g), None)
        # The culprit line visibly doing the failing operation is evidence; no culprit is guessing.
        if culprit is None:
            confidence -= 0.2
        elif attr and attr in code:
            confidence += 0.1
        answer = DiagnosisAnswer(root_cause=cls.cause.format(where=where, detail=detail), affected_files=files,
                                 fix_strategy=cls.strategy, confidence=round(max(0.05, confidence), 2),
                                 requires_human_approval=cls.needs_human, estimated_fix_minutes=cls.minutes)
    notes = [n for n in context.get("notes") or [] if n]
    if culprit is None and notes:
        # Only gitignored build output in the trace: nothing in the repository to change, whatever the pattern says.
        answer.root_cause += f" ({'; '.join(notes)})"
        answer.fix_strategy = "map the trace to the source first (deploy the .map files or run node --enable-source-maps); " + answer.fix_strategy
        answer.requires_human_approval = True
        answer.confidence = round(min(answer.confidence, 0.3), 2)
    if culprit is not None and culprit.get("mapped_from"):
        answer.root_cause += f" (built code {culprit['mapped_from']}, mapped through its source map)"
    if suspect is not None:
        recent = suspect["age_hours"] <= revert_max_age_h
        touched = suspect.get("touched_culprit_line") or suspect.get("changed_culprit_function")
        note = f" Suspect commit {suspect['sha'][:12]} ({suspect['subject']!r}, {suspect['age_hours']:.1f}h ago)"
        note += " changed the failing code." if touched else " changed these files recently." if recent else " is the latest change nearby."
        answer.root_cause += note
        if recent and touched:
            answer.fix_strategy = f"revert {suspect['sha'][:12]} (recent, changed the failing code); otherwise: {answer.fix_strategy}"
            answer.confidence = round(min(0.9, answer.confidence + 0.1), 2)
    return answer
