"""The only place SQL lives: one module per aggregate, each with named functions over a `State`.

Conventions (so every aggregate reads the same):
- a function takes the open `State` first (`issues.get(state, issue_id)`), and its name says what it
  reads or writes (`deployments.active(state, env)`, `metrics.window(state, since, until)`);
- reads return typed records (dataclasses) for an aggregate's own rows, or plain dict rows where the
  caller is a view or JSON output; writes happen inside `state.transaction()` (it nests), so a step
  can put several writes and its audit record in one transaction;
- the schema and its migrations stay in `agent_cli.state`; nothing outside this package and that
  module writes SQL (tests/test_architecture.py checks).
"""
