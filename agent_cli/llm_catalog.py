"""The model catalog: what each Claude model costs, holds and accepts, and when it retires. One table.

Everything that differs between models and breaks a request when it is wrong lives
here, keyed by family, so no code branches on model-name strings:
- `forced_tool_choice`: `tool_choice: {"type": "tool"}` is accepted (the 5.5 generation
  answers it with a 400, so it gets `auto` and the prompt says which tool to call);
- `thinking_off`: the lowest thinking setting the family accepts (`between_tools` on
  5.5, where `disabled` is a 400; `disabled` before; none where thinking is always on);
- `adaptive`, `effort`: adaptive thinking and `output_config.effort` are accepted.

Read from Anthropic's documentation (models overview, each model's page, pricing,
model deprecations, "What's new in Claude Sonnet 5.5") on CATALOG_READ_ON. Prices
are USD per million tokens: input, output, 5-minute cache write, cache read.
A model that is not here may be used only with both `[llm] price_*_per_mtok` given;
it is sent only what every model accepts (no thinking field, no effort, `auto`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from typing import Any

CATALOG_READ_ON = "2026-12-04"
RETIREMENT_WARNING_DAYS = 30
# The thinking settings `[llm] thinking` takes: the lowest the model accepts (the default),
# adaptive thinking at the model's own effort, or nothing sent (the model's default).
THINKING_SETTINGS = ("lowest", "adaptive", "model_default")


@dataclass(frozen=True)
class Family:
    """What requests a family of models accepts."""

    name: str
    forced_tool_choice: bool
    thinking_off: str | None  # the thinking type that turns up-front thinking off; None: always on
    adaptive: bool
    effort: bool
    default_thinking_off: bool = False  # without a thinking field the model does not think (older models)

    def request_fields(self, thinking: str, tool_name: str) -> dict[str, Any]:
        """`thinking`, `output_config` and `tool_choice` for a one-tool request at setting `thinking`."""
        fields: dict[str, Any] = {}
        if thinking == "lowest":
            if self.thinking_off:
                fields["thinking"] = {"type": self.thinking_off}
            if self.effort:
                fields["output_config"] = {"effort": "low"}  # between_tools takes low, medium or high
        elif thinking == "adaptive":
            fields["thinking"] = {"type": "adaptive"}
        sent = fields.get("thinking", {}).get("type")
        thinking_off = sent == "disabled" or (sent is None and self.default_thinking_off)
        # Forcing a tool is refused with thinking on, on every family that accepts it at all.
        if self.forced_tool_choice and thinking_off:
            fields["tool_choice"] = {"type": "tool", "name": tool_name}
        else:
            fields["tool_choice"] = {"type": "auto"}
        return fields


# Sonnet 5.5: forced tool use is a 400, `disabled` is a 400, `between_tools` is the lowest (at effort low-high).
CLAUDE_5_5 = Family("claude-5.5", forced_tool_choice=False, thinking_off="between_tools", adaptive=True, effort=True)
# Haiku 5.5: `disabled` accepted (at effort low-high); whether forcing is accepted is not documented, so it is not sent.
CLAUDE_HAIKU_5_5 = Family("claude-haiku-5.5", forced_tool_choice=False, thinking_off="disabled", adaptive=True, effort=True)
# Opus 5.5 and Fable 5.x: adaptive thinking always on (`disabled` is a 400), forcing a 400; only the effort can be lowered.
CLAUDE_ALWAYS_THINKING = Family("claude-always-thinking", forced_tool_choice=False, thinking_off=None, adaptive=True, effort=True)
# Sonnet 5 and Opus 5: adaptive thinking by default, `disabled` accepted, forcing accepted with thinking off.
CLAUDE_5 = Family("claude-5", forced_tool_choice=True, thinking_off="disabled", adaptive=True, effort=True)
# Claude 4.6-4.8: adaptive thinking only when asked for, effort accepted, forcing accepted with thinking off.
CLAUDE_4_6 = Family("claude-4.6", forced_tool_choice=True, thinking_off="disabled", adaptive=True, effort=True, default_thinking_off=True)
# Claude 4.5: extended thinking only when asked for (budget_tokens), forcing accepted, no effort.
CLAUDE_4_5 = Family("claude-4.5", forced_tool_choice=True, thinking_off="disabled", adaptive=False, effort=False, default_thinking_off=True)
# A model not in the table (priced by the operator): only what every model accepts.
UNKNOWN = Family("unknown", forced_tool_choice=False, thinking_off=None, adaptive=False, effort=False)


@dataclass(frozen=True)
class Model:
    id: str
    family: Family
    input: float
    output: float
    cache_write: float
    cache_read: float
    context: int
    max_output: int
    retires: date | None = None
    replacement: str | None = None
    snapshots: tuple[str, ...] = ()  # dated ids that name the same model
    long_context: tuple[int, float, float] | None = None  # (input tokens above which, input, output price) for the whole call

    def retired(self, today: date) -> bool:
        return self.retires is not None and today >= self.retires


def _m(id: str, family: Family, prices: tuple[float, float, float, float], context: int, max_output: int,
       retires: str | None = None, replacement: str | None = None, snapshots: tuple[str, ...] = (),
       long_context: tuple[int, float, float] | None = None) -> Model:
    return Model(id, family, *prices, context=context, max_output=max_output, retires=date.fromisoformat(retires) if retires else None,
                 replacement=replacement, snapshots=snapshots, long_context=long_context)


K, M = 1_000, 1_000_000
# Retired models stay in the table: a config naming one is refused with its replacement, and old rows keep their price.
MODELS: tuple[Model, ...] = (
    _m("claude-sonnet-5-5", CLAUDE_5_5, (2.0, 10.0, 2.5, 0.10), 1 * M, 128 * K),
    # Haiku 5.5 is tiered: a prompt over 100K tokens is charged the long-context prices for the whole call.
    _m("claude-haiku-5-5", CLAUDE_HAIKU_5_5, (0.10, 0.50, 0.125, 0.01), 1 * M, 128 * K, long_context=(100 * K, 0.50, 2.50)),
    _m("claude-opus-5-5", CLAUDE_ALWAYS_THINKING, (4.0, 20.0, 5.0, 0.20), 1 * M, 128 * K),
    _m("claude-fable-5-2", CLAUDE_ALWAYS_THINKING, (8.0, 40.0, 10.0, 0.20), 1 * M, 128 * K),
    _m("claude-fable-5-1", CLAUDE_ALWAYS_THINKING, (10.0, 50.0, 12.5, 0.25), 1 * M, 128 * K),
    _m("claude-fable-5", CLAUDE_ALWAYS_THINKING, (10.0, 50.0, 12.5, 1.00), 1 * M, 128 * K),
    _m("claude-sonnet-5", CLAUDE_5, (2.0, 10.0, 2.5, 0.20), 1 * M, 128 * K),
    _m("claude-opus-5", CLAUDE_5, (5.0, 25.0, 6.25, 0.50), 1 * M, 128 * K),
    _m("claude-opus-4-8", CLAUDE_4_6, (5.0, 25.0, 6.25, 0.50), 1 * M, 128 * K),
    _m("claude-opus-4-7", CLAUDE_4_6, (5.0, 25.0, 6.25, 0.50), 1 * M, 128 * K),
    _m("claude-opus-4-6", CLAUDE_4_6, (5.0, 25.0, 6.25, 0.50), 1 * M, 128 * K),
    _m("claude-sonnet-4-6", CLAUDE_4_6, (3.0, 15.0, 3.75, 0.30), 1 * M, 128 * K),
    _m("claude-haiku-4-5", CLAUDE_4_5, (1.0, 5.0, 1.25, 0.10), 200 * K, 64 * K, snapshots=("claude-haiku-4-5-20251001",)),
    _m("claude-opus-4-5", CLAUDE_4_5, (5.0, 25.0, 6.25, 0.50), 200 * K, 64 * K, snapshots=("claude-opus-4-5-20251101",)),
    _m("claude-sonnet-4-5", CLAUDE_4_5, (3.0, 15.0, 3.75, 0.30), 200 * K, 64 * K,
       retires="2026-11-30", replacement="claude-sonnet-5-5", snapshots=("claude-sonnet-4-5-20250929",)),
    _m("claude-opus-4-1", CLAUDE_4_5, (15.0, 75.0, 18.75, 1.50), 200 * K, 32 * K,
       retires="2026-08-05", replacement="claude-opus-5-5", snapshots=("claude-opus-4-1-20250805",)),
    _m("claude-sonnet-4", CLAUDE_4_5, (3.0, 15.0, 3.75, 0.30), 200 * K, 64 * K,
       retires="2026-06-15", replacement="claude-sonnet-5-5", snapshots=("claude-sonnet-4-20250514",)),
    _m("claude-opus-4", CLAUDE_4_5, (15.0, 75.0, 18.75, 1.50), 200 * K, 32 * K,
       retires="2026-06-15", replacement="claude-opus-5-5", snapshots=("claude-opus-4-20250514",)),
    _m("claude-3-7-sonnet", CLAUDE_4_5, (3.0, 15.0, 3.75, 0.30), 200 * K, 64 * K,
       retires="2026-02-19", replacement="claude-sonnet-5-5", snapshots=("claude-3-7-sonnet-20250219", "claude-3-7-sonnet-latest")),
    _m("claude-3-5-haiku", CLAUDE_4_5, (0.8, 4.0, 1.0, 0.08), 200 * K, 8 * K,
       retires="2026-02-19", replacement="claude-haiku-5-5", snapshots=("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest")),
)
DEFAULT_MODEL = "claude-sonnet-5-5"
_BY_ID = {name: m for m in MODELS for name in (m.id, *m.snapshots)}
_DEAREST = max(MODELS, key=lambda m: m.output)


@dataclass(frozen=True)
class Price:
    """USD per million tokens for one model, as charged."""

    input: float
    output: float
    cache_write: float
    cache_read: float
    long_context: tuple[int, float, float] | None = None

    def rates(self, input_tokens: int) -> tuple[float, float]:
        """(input, output) per MTok for a call with this many input tokens (a tiered model's long prompts cost more)."""
        if self.long_context and input_tokens > self.long_context[0]:
            return self.long_context[1], self.long_context[2]
        return self.input, self.output

    def cost(self, input_tokens: int, output_tokens: int, cache_write_tokens: int = 0, cache_read_tokens: int = 0) -> float:
        price_in, price_out = self.rates(input_tokens + cache_write_tokens + cache_read_tokens)
        ratio = price_in / self.input if self.input else 1.0  # the cache prices follow the input tier
        total = (max(0, input_tokens) * price_in + max(0, output_tokens) * price_out
                 + max(0, cache_write_tokens) * self.cache_write * ratio + max(0, cache_read_tokens) * self.cache_read * ratio) / 1_000_000
        return total if total > 0 else 0.0  # never negative (nor NaN)


def lookup(model_id: str) -> Model | None:
    return _BY_ID.get(model_id)


def family(model_id: str) -> Family:
    known = lookup(model_id)
    return known.family if known else UNKNOWN


def price(model_id: str, override_in: float | None = None, override_out: float | None = None) -> Price:
    """The operator's override (`[llm] price_*_per_mtok`) wins, else the table; an unknown model without one is charged
    as the dearest known model, so budgets fail safe. Cache prices of an override follow Anthropic's 1.25x / 0.1x rule."""
    known = lookup(model_id) or _DEAREST
    if override_in is None and override_out is None and lookup(model_id) is not None:
        return Price(known.input, known.output, known.cache_write, known.cache_read, known.long_context)
    price_in = known.input if override_in is None else override_in
    price_out = known.output if override_out is None else override_out
    return Price(price_in, price_out, price_in * 1.25, price_in * 0.1)


def check(model_id: str, *, priced: bool, thinking: str, today: date) -> None:
    """Raise ValueError (one line, the remedy in it) for a retired model, an unknown one without prices, or a
    thinking setting the model does not accept."""
    known = lookup(model_id)
    if known is None:
        if priced:
            return
        close = difflib.get_close_matches(model_id, list(_BY_ID), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown model {model_id!r}: {hint}known models: {', '.join(m.id for m in MODELS if not m.retired(today))}; "
                         "to use another, give both [llm] price_input_per_mtok and price_output_per_mtok")
    if known.retired(today):
        assert known.retires is not None
        use = f"; use {known.replacement!r} ([llm] model = \"{known.replacement}\")" if known.replacement else ""
        raise ValueError(f"model {model_id!r} was retired on {known.retires.isoformat()}{use}")
    if thinking == "adaptive" and not known.family.adaptive:
        raise ValueError(f"model {model_id!r} does not accept adaptive thinking; use thinking = \"lowest\" or \"model_default\"")


def retirement_warning(model_id: str, today: date) -> str | None:
    """A line for `status` and `run` when the model retires within RETIREMENT_WARNING_DAYS."""
    known = lookup(model_id)
    if known is None or known.retires is None or known.retired(today):
        return None
    days = (known.retires - today).days
    if days > RETIREMENT_WARNING_DAYS:
        return None
    use = f"; switch to {known.replacement!r}" if known.replacement else ""
    return f"model {model_id} retires on {known.retires.isoformat()} ({days} day{'s' if days != 1 else ''} left){use}"

