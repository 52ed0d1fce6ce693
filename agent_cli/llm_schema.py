"""The structured answers of DESIGN.md's LLM contract: tool definitions and their validation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DiagnosisAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    root_cause: str = Field(min_length=1)
    affected_files: list[str]
    fix_strategy: str = Field(min_length=1)
    confidence: float = Field(ge=0, le=1)
    requires_human_approval: bool
    estimated_fix_minutes: int = Field(ge=0)


class Edit(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1)
    search: str
    replace: str


class FixAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1)
    edits: list[Edit] = Field(min_length=1)
    confidence: float = Field(ge=0, le=1)


REPORT_DIAGNOSIS: dict[str, Any] = {
    "name": "report_diagnosis",
    "description": "Report the root cause of the production error and how to fix it.",
    "input_schema": {
        "type": "object",
        "properties": {
            "root_cause": {"type": "string", "description": "What is wrong, in which function and line, and why."},
            "affected_files": {"type": "array", "items": {"type": "string"}, "description": "Repo-relative paths a fix must change."},
            "fix_strategy": {"type": "string", "description": "How to fix it, concretely."},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1, "description": "How sure you are, 0..1."},
            "requires_human_approval": {"type": "boolean", "description": "True if a person must decide (data, security, infrastructure)."},
            "estimated_fix_minutes": {"type": "integer", "minimum": 0},
        },
        "required": ["root_cause", "affected_files", "fix_strategy", "confidence", "requires_human_approval", "estimated_fix_minutes"],
    },
}

PROPOSE_FIX: dict[str, Any] = {
    "name": "propose_fix",
    "description": "Propose the smallest code change that fixes the diagnosed error.",
    "input_schema": {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "description": "One line: what the change does."},
            "edits": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": "Repo-relative path."},
                        "search": {"type": "string", "description": "An exact excerpt of the current file (empty to create a new file)."},
                        "replace": {"type": "string", "description": "The new text for that excerpt."},
                    },
                    "required": ["path", "search", "replace"],
                },
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["summary", "edits", "confidence"],
    },
}
