"""Code context for a diagnosis: the culprit frame, code windows, request data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_cli.detect.events import Frame, build_output_reason, throw_site_first
from agent_cli.paths import to_repo_path

CULPRIT_RADIUS = 10
CALLER_RADIUS = 4
MAX_CALLERS = 4
MAX_WINDOW_CHARS = 4000
MAX_LINE_CHARS = 300


@dataclass
class CodeWindow:
    path: str
    start: int
    end: int
    line: int
    function: str
    text: str  # numbered lines, the frame's line marked with ">"


@dataclass
class CodeContext:
    culprit: dict[str, Any] | None = None  # path, line, function, code
    windows: list[CodeWindow] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    request: dict[str, Any] = field(default_factory=dict)
    sample: str = ""
    exception_type: str | None = None
    message: str = ""
    notes: list[str] = field(default_factory=list)  # what the reader must know about the frames (build output)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "windows": [asdict(w) for w in self.windows]}

    @property
    def files(self) -> list[str]:
        return list(dict.fromkeys(w.path for w in self.windows))


def read_window(repo: Path, path: str, line: int, radius: int, function: str = "") -> CodeWindow | None:
    try:
        lines = (repo / path).read_text(encoding="utf-8", errors="replace").split("\n")
    except OSError:
        return None
    if not 1 <= line <= len(lines):
        return None
    start, end = max(1, line - radius), min(len(lines), line + radius)
    numbered = [
        f"{'>' if n == line else ' '}{n:5d}  {lines[n - 1][:MAX_LINE_CHARS]}" for n in range(start, end + 1)
    ]
    return CodeWindow(path, start, end, line, function, "\n".join(numbered)[:MAX_WINDOW_CHARS])


def build_context(repo: Path, events: list[dict[str, Any]]) -> CodeContext:
    """From the issue's sample events (newest first): the deepest in-app frame is the culprit.

    Node frames are read back to their original source first (source maps in the working tree), so the
    culprit is the `src/*.ts` line; "deepest" follows the language (Node prints it first, Python last).
    """
    sample = next((e for e in events if e.get("frames")), events[0] if events else None)
    if sample is None:
        return CodeContext()
    from agent_cli.sourcemap import resolve_frames

    frames = resolve_frames([Frame.from_dict(f) for f in sample.get("frames") or []], repo)
    ctx = CodeContext(
        frames=[f.as_dict() for f in frames],
        request=sample.get("request") or {},
        sample=sample.get("raw", ""),
        exception_type=sample.get("exception_type"),
        message=sample.get("exception_message") or sample.get("message", ""),
    )
    mapped: list[tuple[str, Frame]] = []  # throw site first
    for frame in throw_site_first(frames):
        if not frame.in_app:
            continue
        repo_path = to_repo_path(frame.file, repo)
        if repo_path and frame.line:
            mapped.append((repo_path, frame))
    if not mapped:
        reason = build_output_reason(frames)
        if reason:
            ctx.notes.append(f"{reason}: no fix can go there; build with source maps (or keep the .map files) to find the source line")
        return ctx
    culprit_path, culprit_frame = mapped[0]
    line = int(culprit_frame.line or 0)
    window = read_window(repo, culprit_path, line, CULPRIT_RADIUS, culprit_frame.function)
    if window is not None:
        code = (repo / culprit_path).read_text(encoding="utf-8", errors="replace").split("\n")[line - 1]
        ctx.culprit = {"path": culprit_path, "line": line, "function": culprit_frame.function, "code": code.strip()[:MAX_LINE_CHARS]}
        if culprit_frame.mapped_from:
            ctx.culprit["mapped_from"] = culprit_frame.mapped_from
        ctx.windows.append(window)
    for caller_path, frame in mapped[1:MAX_CALLERS + 1]:  # nearest caller first
        caller = read_window(repo, caller_path, int(frame.line or 0), CALLER_RADIUS, frame.function)
        if caller is not None:
            ctx.windows.append(caller)
    return ctx
