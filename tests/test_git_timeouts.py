"""Git never hangs the agent and never asks a person: timeouts kill the whole process group, no prompts, one error type."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent_cli.config import load_settings
from agent_cli.gitrepo import GitError, GitRepo
from tests.conftest import Project, git
from tests.test_fix import diagnosed


class HungServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/x.git"
        self.sock.settimeout(0.05)
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        # Stop accepting before closing: a thread still in accept() on a reused descriptor would steal the next test's connections.
        self._stop.set()
        self._thread.join()
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def hung() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()
    assert not processes_with(f"127.0.0.1:{server.port}"), "a git process outlived its test"


def processes_with(text: str) -> list[str]:
    """Live (not zombie) processes whose command line contains `text`."""
    rows = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True).stdout.splitlines()
    me = str(os.getpid())
    return [r for r in rows if text in r and not r.split()[1].startswith("Z") and r.split()[0] != me and " ps -eo" not in r]


def no_git_process_left(port: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while processes_with(f"127.0.0.1:{port}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def local(tmp_path: Path) -> Path:
    root = tmp_path / "local"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "commit", "-q", "--allow-empty", "-m", "initial")
    return root


# --- timeouts ------------------------------------------------------------------------------------

def test_fetch_from_a_hung_remote_is_killed_at_the_timeout_with_its_children(local: Path, hung: HungServer) -> None:
    git(local, "remote", "add", "origin", hung.url)
    started = time.monotonic()
    with pytest.raises(GitError) as caught:
        GitRepo(local, timeout_s=1).run("fetch", "--quiet", "origin")
    assert time.monotonic() - started < 10
    assert str(caught.value) == "git fetch timed out after 1s"
    assert caught.value.timed_out and caught.value.returncode is None
    assert caught.value.command == ("git", "fetch", "--quiet", "origin")
    assert hung.accepted, "git never reached the server: the test proves nothing"
    # git-remote-http (the child that holds the connection) died with git.
    assert no_git_process_left(hung.port)


def test_the_kill_does_not_depend_on_pgrep_or_ps(local: Path, hung: HungServer, tmp_path: Path) -> None:
    # GitPython's kill_after_timeout finds git's children with pgrep/ps: without them git-remote-http
    # survives, holds the pipe and the call never returns. A process group has no such gap.
    git(local, "remote", "add", "origin", hung.url)
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    (only_git / "git").symlink_to(subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip())
    script = textwrap.dedent(f"""
        from pathlib import Path
        from agent_cli.gitrepo import GitError, GitRepo
        try:
            GitRepo(Path({str(local)!r}), timeout_s=1).run("fetch", "origin")
        except GitError as exc:
            print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PATH": str(only_git)})
    assert done.stdout.strip() == "git fetch timed out after 1s", done.stderr
    assert no_git_process_left(hung.port)


def test_a_timed_out_git_is_asked_to_clean_up_before_it_is_killed(local: Path, tmp_path: Path) -> None:
    # git removes its lock files on SIGTERM (not on SIGKILL): a stale refs/...lock would fail the next fetch.
    marker = tmp_path / "terminated"
    alias = f'alias.slow=!trap "echo term > {marker}; exit 1" TERM; sleep 30 & wait'
    with pytest.raises(GitError, match="^git slow timed out after 1s$"):
        GitRepo(local, timeout_s=1).run("-c", alias, "slow")
    assert marker.read_text() == "term\n"


def test_each_configuration_keeps_its_own_git_timeout(local: Path, hung: HungServer, tmp_path: Path) -> None:
    """No process-wide timeout: loading a second configuration does not change the first one's (it used to)."""
    git(local, "remote", "add", "origin", hung.url)
    quick, patient = tmp_path / "quick.toml", tmp_path / "patient.toml"
    quick.write_text(f'[agent]\nrepo = "{local}"\ngit_timeout_s = 1.5\n')
    patient.write_text(f'[agent]\nrepo = "{local}"\ngit_timeout_s = 600\n')
    first = load_settings(quick)
    second = load_settings(patient)
    assert GitRepo.of(second).timeout == 600
    with pytest.raises(GitError, match=r"^git ls-remote timed out after 1.5s$"):
        GitRepo.of(first).run("ls-remote", "origin")
    assert no_git_process_left(hung.port)


def test_interrupting_the_agent_kills_git_too(local: Path, hung: HungServer) -> None:
    # git runs in a session of its own (no terminal to prompt on), so Ctrl-C never reaches it: we kill it.
    git(local, "remote", "add", "origin", hung.url)
    script = textwrap.dedent(f"""
        import signal, threading, os
        from pathlib import Path
        from agent_cli.gitrepo import GitRepo
        threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            GitRepo(Path({str(local)!r}), timeout_s=60).run("fetch", "origin")
        except KeyboardInterrupt:
            print("interrupted")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "interrupted", done.stderr
    assert no_git_process_left(hung.port)


# --- no prompts ----------------------------------------------------------------------------------

def test_git_runs_without_terminal_prompts_pager_editor_or_inherited_repository(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Set by a git hook that starts the agent: inherited, they would point our git calls elsewhere.
    monkeypatch.setenv("GIT_DIR", "/nonexistent")
    monkeypatch.setenv("GIT_INDEX_FILE", "/nonexistent/index")
    monkeypatch.setenv("GIT_PAGER", "less")
    monkeypatch.setenv("GIT_EDITOR", "vi")
    repo = GitRepo(local)
    out = repo.run("-c", "alias.envdump=!env; ps -o sid= -p $$", "envdump")
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GCM_INTERACTIVE"] == "never"
    assert env["GIT_PAGER"] == "cat" and env["GIT_EDITOR"] == ":" and env["GIT_SEQUENCE_EDITOR"] == ":"
    assert "GIT_INDEX_FILE" not in env
    sid = int(out.strip().splitlines()[-1])
    assert sid != os.getsid(0)  # a session of its own: no controlling terminal to open
    assert repo.run("rev-parse", "--absolute-git-dir").strip() == str(local / ".git")


class _AuthRequired(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="x"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_remote_asking_for_a_password_fails_at_once_instead_of_prompting(local: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthRequired)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        git(local, "remote", "add", "origin", f"http://127.0.0.1:{server.server_port}/x.git")
        started = time.monotonic()
        with pytest.raises(GitError) as caught:
            GitRepo(local, timeout_s=30).run("fetch", "origin")
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 10
    assert "terminal prompts disabled" in str(caught.value), caught.value.stderr
    assert str(caught.value).startswith("git fetch failed: ")


def _fake_ssh(directory: Path, name: str = "ssh") -> tuple[Path, Path]:
    directory.mkdir(exist_ok=True)
    log = directory / f"{name}.args"
    script = directory / name
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\necho "fake ssh: no" >&2\nexit 255\n')
    script.chmod(0o755)
    return script, log


@pytest.mark.parametrize("how", ["default", "GIT_SSH_COMMAND", "core.sshCommand"])
def test_ssh_runs_in_batch_mode_and_keeps_the_users_ssh_command(local: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    script, log = _fake_ssh(tmp_path / "bin")
    git(local, "remote", "add", "origin", "ssh://git@example.invalid/x.git")
    if how == "default":
        monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    elif how == "GIT_SSH_COMMAND":
        monkeypatch.setenv("GIT_SSH_COMMAND", f"{script} -i from-env")
    else:
        git(local, "config", "core.sshCommand", f"{script} -i from-config")
    with pytest.raises(GitError, match=r"^git fetch failed: fake ssh: no; fatal: Could not read from remote repository\.$"):
        GitRepo(local).run("fetch", "origin")
    args = log.read_text().splitlines()
    assert "BatchMode=yes" in args and args[args.index("BatchMode=yes") - 1] == "-o"
    if how != "default":
        assert args[:2] == ["-i", {"GIT_SSH_COMMAND": "from-env", "core.sshCommand": "from-config"}[how]]


# --- every failure is a GitError -----------------------------------------------------------------

def test_a_failing_command_names_itself_and_keeps_its_stderr(local: Path) -> None:
    repo = GitRepo(local)
    with pytest.raises(GitError) as caught:
        repo.run("rev-parse", "--verify", "no-such-ref")
    assert str(caught.value) == "git rev-parse failed: fatal: Needed a single revision"
    assert caught.value.command == ("git", "rev-parse", "--verify", "no-such-ref")
    assert caught.value.returncode == 128 and "fatal" in caught.value.stderr
    assert repo.resolve("no-such-ref") is None and repo.resolve("HEAD")


def test_credentials_in_a_url_never_reach_the_message(local: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # git anonymises the URLs it prints itself; a remote helper (or an old git) may not.
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    leaky = helpers / "git-remote-leaky"
    leaky.write_text('#!/bin/sh\necho "error: cannot reach $2" >&2\nexit 1\n')
    leaky.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helpers}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(GitError) as caught:
        GitRepo(local).run("fetch", "leaky://agent:hunter2-secret@example.invalid/x.git")
    assert "error: cannot reach leaky://***@example.invalid/x.git" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "hunter2" not in caught.value.stderr and "hunter2" not in str(caught.value.command)


def test_a_missing_git_binary_is_a_git_error_even_for_resolve(local: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    repo = GitRepo(local)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitError, match=r"^git is not installed or not on PATH \(needed to run `git rev-parse`\)$"):
        repo.resolve("HEAD")  # not "no such commit": the question could not be asked


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="is not a git repository"):
        GitRepo(tmp_path)
    with pytest.raises(GitError, match="is not a git repository"):
        GitRepo(tmp_path / "missing")


def test_the_checkout_fingerprint_uses_the_same_git_and_fails_loudly(local: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from agent_cli.fix import integrity

    before = integrity.fingerprint(GitRepo(local))
    assert before["HEAD"].endswith(" refs/heads/main")
    git(local, "checkout", "-q", "--detach")
    assert "HEAD changed" in integrity.changes(before, integrity.fingerprint(GitRepo(local)))
    # A fingerprint git could not take must not compare equal to another one it could not take either.
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitError, match="git is not installed"):
        integrity.fingerprint(GitRepo(local, timeout_s=1))


# --- through the CLI -----------------------------------------------------------------------------

def _runs(project: Project) -> list[tuple]:
    conn = sqlite3.connect(project.state)
    try:
        return conn.execute("SELECT command, outcome, exit_code, finished_at FROM runs ORDER BY started_at").fetchall()
    finally:
        conn.close()


def test_agent_fix_against_a_hung_remote_times_out_releases_the_lock_and_records_the_run(project: Project, app: dict, hung: HungServer) -> None:
    issue = diagnosed(project, "[agent]\ngit_timeout_s = 2\n")
    git(project.root, "remote", "set-url", "origin", hung.url)
    started = time.monotonic()
    result = project.run("fix", str(issue), timeout=60)
    assert time.monotonic() - started < 30
    assert result.exit_code == 1, result.stderr
    assert result.stderr.strip().splitlines() == ["agent: error: git fetch timed out after 2s"], result.stderr
    assert "Traceback" not in result.stderr
    assert hung.accepted
    assert no_git_process_left(hung.port)
    command, outcome, exit_code, finished_at = _runs(project)[-1]
    assert command == "fix" and outcome != "ok" and "timed out" in outcome and exit_code == 1 and finished_at
    # The lock is free: the next cron run proceeds.
    nxt = project.run("scan")
    assert nxt.exit_code == 0, nxt.stderr
    assert project.run("--json", "show", str(issue)).json()["status"] == "diagnosed"


def test_agent_without_git_on_path_says_so_in_one_line(project: Project, app: dict, tmp_path: Path) -> None:
    issue = diagnosed(project)
    (tmp_path / "no-git").mkdir()
    result = project.run("fix", str(issue), env={"PATH": str(tmp_path / "no-git")})
    assert result.exit_code == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "git is not installed or not on PATH" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "ImportError" not in result.stderr
    command, outcome, exit_code, _ = _runs(project)[-1]
    assert command == "fix" and outcome != "ok" and exit_code == 1
