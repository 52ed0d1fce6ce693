"""Grouping accuracy of fingerprint v1/v2 masking and of grouping v2 (masks + template miner).

The lines are generated here from templates in the style of five public log
formats (HDFS, Zookeeper, OpenSSH, Apache error log, Android logcat), with
random variables, so the true group of every line is known. Each line goes
through the real event parser and the real fingerprint functions, as `agent scan`
reads it. Grouping accuracy is the ICSE'19 definition (Zhu et al., "Tools and
Benchmarks for Automated Log Parsing"): a line counts as correct when the group
it was put in holds exactly the lines of its true group.
Usage: python benchmarks/grouping.py [--lines N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections import defaultdict
from collections.abc import Callable

from agent_cli.detect.events import parse_block
from agent_cli.detect.fingerprint import fingerprint, legacy_fingerprint
from agent_cli.detect.miner import TemplateMiner

USERS = ["root", "admin", "test", "oracle", "guest", "bob", "alice", "ftpuser", "pi", "ubuntu", "git", "nagios", "user1", "support"]
PACKAGES = ["com.tencent.mm", "com.android.systemui", "com.huawei.health", "com.example.shop", "org.mozilla.firefox"]
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "zeta"]


class Vars:
    """Random values of each kind a template asks for."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def n(self, hi: int = 100) -> str:
        return str(self.r.randrange(hi))

    def ip(self) -> str:
        return ".".join(str(self.r.randrange(1, 255)) for _ in range(4))

    def port(self) -> str:
        return str(self.r.randrange(1024, 65535))

    def blk(self) -> str:
        return f"blk_{self.r.choice(['', '-'])}{self.r.randrange(10**17, 10**19)}"

    def hex(self, digits: int = 7) -> str:
        return "".join(self.r.choice("0123456789abcdef") for _ in range(digits))

    def user(self) -> str:
        return self.r.choice(USERS)

    def host(self) -> str:
        return self.r.choice([f"{self.r.choice(WORDS)}-{self.n(50)}.example.com", f"ip-{self.ip().replace('.', '-')}.ec2.internal",
                              f"host{self.n(99)}.corp.local"])

    def pkg(self) -> str:
        return self.r.choice(PACKAGES)

    def size(self) -> str:
        return self.r.choice([f"{self.n(1000)} B", f"{self.r.random() * 100:.1f} KB", f"{self.n(900)} MB", f"{self.r.random() * 9:.2f} GB"])

    def word(self) -> str:
        return self.r.choice(WORDS)


Template = Callable[[Vars], str]


def hdfs(v: Vars, body: str, level: str = "INFO", logger: str = "dfs.DataNode$PacketResponder") -> str:
    return f"0811{v.r.randrange(10, 12)}{v.n(30):0>2} 2{v.n(10)}{v.n(60):0>2}{v.n(60):0>2} {v.n(3000)} {level} {logger}: {body}"


HDFS: list[Template] = [
    lambda v: hdfs(v, f"PacketResponder {v.n(3)} for block {v.blk()} terminating"),
    lambda v: hdfs(v, f"Received block {v.blk()} of size {v.n(70_000_000)} from /{v.ip()}"),
    lambda v: hdfs(v, f"Receiving block {v.blk()} src: /{v.ip()}:{v.port()} dest: /{v.ip()}:50010", logger="dfs.DataNode$DataXceiver"),
    lambda v: hdfs(v, f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {v.ip()}:50010 is added to {v.blk()} size {v.n(70_000_000)}",
                   logger="dfs.FSNamesystem"),
    lambda v: hdfs(v, f"BLOCK* NameSystem.allocateBlock: /user/root/rand{v.n(9)}/_temporary/_task_200811{v.n(99)}_{v.n(9999)}_m_{v.n(999999):0>6}_0"
                      f"/part-{v.n(99999):0>5}. {v.blk()}", logger="dfs.FSNamesystem"),
    lambda v: hdfs(v, f"Deleting block {v.blk()} file /mnt/hadoop/dfs/data/current/subdir{v.n(64)}/{v.blk()}", logger="dfs.FSDataset"),
    lambda v: hdfs(v, f"{v.ip()}:50010 Served block {v.blk()} to /{v.ip()}", level="INFO", logger="dfs.DataNode$DataXceiver"),
    lambda v: hdfs(v, f"{v.ip()}:50010:Got exception while serving {v.blk()} to /{v.ip()}:", level="WARN", logger="dfs.DataNode$DataXceiver"),
    lambda v: hdfs(v, f"Verification succeeded for {v.blk()}", logger="dfs.DataBlockScanner"),
    lambda v: hdfs(v, f"BLOCK* NameSystem.delete: {v.blk()} is added to invalidSet of {v.ip()}:50010", logger="dfs.FSNamesystem"),
    lambda v: hdfs(v, f"Unexpected error trying to delete block {v.blk()}: temp file /mnt/hadoop//dfs/data/tmp/{v.hex(8)}/{v.blk()}.meta is gone",
                   level="WARN", logger="dfs.FSDataset"),
]


def zk(v: Vars, level: str, thread: str, body: str) -> str:
    return f"2015-07-{v.n(30):0>2} {v.n(24):0>2}:{v.n(60):0>2}:{v.n(60):0>2},{v.n(1000):0>3} - {level:<5} [{thread}] - {body}"


ZOOKEEPER: list[Template] = [
    lambda v: zk(v, "INFO", f"QuorumPeer[myid={v.n(4)}]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774", f"Notification time out: {v.n(60000)}"),
    lambda v: zk(v, "INFO", "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxnFactory@197", f"Accepted socket connection from /{v.ip()}:{v.port()}"),
    lambda v: zk(v, "INFO", "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxn@1001",
                 f"Closed socket connection for client /{v.ip()}:{v.port()} which had sessionid 0x{v.hex(15)}"),
    lambda v: zk(v, "INFO", f"CommitProcessor:{v.n(4)}:ZooKeeperServer@595",
                 f"Established session 0x{v.hex(15)} with negotiated timeout {v.n(40000)} for client /{v.ip()}:{v.port()}"),
    lambda v: zk(v, "WARN", f"SendWorker:{v.n(4)}:QuorumCnxManager$SendWorker@679", "Interrupted while waiting for message on queue"),
    lambda v: zk(v, "WARN", f"RecvWorker:{v.n(4)}:QuorumCnxManager$RecvWorker@765", f"Connection broken for id {v.n(4)}, my id = {v.n(4)}, error = "),
    lambda v: zk(v, "INFO", f"ProcessThread(sid:{v.n(4)} cport:-1)::PrepRequestProcessor@476",
                 f"Processed session termination for sessionid: 0x{v.hex(15)}"),
    lambda v: zk(v, "WARN", f"WorkerSender[myid={v.n(4)}]:QuorumCnxManager@368", f"Cannot open channel to {v.n(4)} at election address /{v.ip()}:3888"),
    lambda v: zk(v, "INFO", f"QuorumPeer[myid={v.n(4)}]/0:0:0:0:0:0:0:0:2181:Follower@{v.n(200)}",
                 f"FOLLOWING - LEADER ELECTION TOOK - {v.n(900)}"),
    lambda v: zk(v, "INFO", f"SyncThread:{v.n(4)}:FileTxnLog@199", f"Creating new log file: log.{v.hex(9)}"),
    lambda v: zk(v, "INFO", "main:QuorumPeerConfig@101", f"Reading configuration from: /etc/zookeeper/conf/zoo{v.n(3)}.cfg"),
]


def ssh(v: Vars, body: str) -> str:
    return f"{v.r.choice(['Dec', 'Jan'])} {v.n(31) or 1:>2} {v.n(24):0>2}:{v.n(60):0>2}:{v.n(60):0>2} LabSZ sshd[{v.n(30000)}]: {body}"


OPENSSH: list[Template] = [
    lambda v: ssh(v, f"reverse mapping checking getaddrinfo for {v.host()} [{v.ip()}] failed - POSSIBLE BREAK-IN ATTEMPT!"),
    lambda v: ssh(v, f"Invalid user {v.user()} from {v.ip()}"),
    lambda v: ssh(v, f"input_userauth_request: invalid user {v.user()} [preauth]"),
    lambda v: ssh(v, "pam_unix(sshd:auth): check pass; user unknown"),
    lambda v: ssh(v, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={v.ip()}  user={v.user()}"),
    lambda v: ssh(v, f"Failed password for invalid user {v.user()} from {v.ip()} port {v.port()} ssh2"),
    lambda v: ssh(v, f"Failed password for {v.user()} from {v.ip()} port {v.port()} ssh2"),
    lambda v: ssh(v, f"Received disconnect from {v.ip()}: 11: Bye Bye [preauth]"),
    lambda v: ssh(v, f"Connection closed by {v.ip()} [preauth]"),
    lambda v: ssh(v, f"Accepted password for {v.user()} from {v.ip()} port {v.port()} ssh2"),
    lambda v: ssh(v, f"PAM {v.n(6)} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={v.ip()}  user={v.user()}"),
    lambda v: ssh(v, f"Disconnecting: Too many authentication failures for {v.user()} [preauth]"),
    lambda v: ssh(v, f"error: Received disconnect from {v.ip()}: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]"),
]


def apache(v: Vars, level: str, body: str) -> str:
    day = v.r.choice(["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"])
    month = v.r.choice(["Dec", "Jan", "Feb"])
    return f"[{day} {month} {v.n(28) or 1:0>2} {v.n(24):0>2}:{v.n(60):0>2}:{v.n(60):0>2} 2005] [{level}] {body}"


APACHE: list[Template] = [
    lambda v: apache(v, "notice", f"jk2_init() Found child {v.n(9000)} in scoreboard slot {v.n(12)}"),
    lambda v: apache(v, "notice", "workerEnv.init() ok /etc/httpd/conf/workers2.properties"),
    lambda v: apache(v, "error", f"mod_jk child workerEnv in error state {v.n(12)}"),
    lambda v: apache(v, "error", f"[client {v.ip()}] Directory index forbidden by rule: /var/www/html/"),
    lambda v: apache(v, "error", f"jk2_init() Can't find child {v.n(9000)} in scoreboard"),
    lambda v: apache(v, "notice", f"child pid {v.n(30000)} exit signal Segmentation fault ({v.n(12)})"),
    lambda v: apache(v, "error", f"[client {v.ip()}] File does not exist: /var/www/html/{v.word()}/{v.hex(6)}.{v.r.choice(['php', 'html', 'gif'])}"),
    lambda v: apache(v, "error", f"mod_jk child init {v.n(3)} -{v.n(3)}"),
    lambda v: apache(v, "notice", f"Apache/2.0.{v.n(60)} (Fedora) configured -- resuming normal operations"),
    lambda v: apache(v, "warn", f"[client {v.ip()}] request body of {v.size()} exceeds the limit for /cgi-bin/{v.word()}.cgi"),
    lambda v: apache(v, "error", f"[client {v.ip()}, {v.ip()}, {v.ip()}] proxy: error reading status line from remote server {v.host()}"),
]


def logcat(v: Vars, level: str, tag: str, body: str) -> str:
    return f"03-{v.n(30):0>2} {v.n(24):0>2}:{v.n(60):0>2}:{v.n(60):0>2}.{v.n(1000):0>3}  {v.n(4000):>4}  {v.n(9000):>4} {level} {tag}: {body}"


ANDROID: list[Template] = [
    lambda v: logcat(v, "D", "PowerManagerService", f'acquire lock={v.n(10**9)}, flags=0x1, tag="View Lock", name={v.pkg()}, ws=null, '
                     f"uid={v.n(20000)}, pid={v.n(30000)}"),
    lambda v: logcat(v, "V", "WindowManager", f"Skipping AppWindowToken{{{v.hex()} token=Token{{{v.hex()} ActivityRecord{{{v.hex()} u0 "
                     f"{v.pkg()}/.Main t{v.n(900)}}}}}}} -- going to hide"),
    lambda v: logcat(v, "I", "PowerManager_screenOn", f"DisplayPowerStatesetColorFadeLevel: level={v.r.random():.4f}"),
    lambda v: logcat(v, "D", "DisplayPowerController", f"Animating brightness: target={v.n(255)}, rate={v.n(300)}"),
    lambda v: logcat(v, "W", "ActivityManager", f"Unable to start service Intent {{ act={v.pkg()}.ACTION_SYNC }} U=0: not found"),
    lambda v: logcat(v, "I", "ActivityManager", f"Start proc {v.n(30000)}:{v.pkg()}/u0a{v.n(300)} for service {v.pkg()}/.SyncService"),
    lambda v: logcat(v, "V", "AlarmManager", f"remove alarm: Alarm{{{v.hex()} type {v.n(4)} when {v.n(10**12)} {v.pkg()}}}"),
    lambda v: logcat(v, "D", "SendBroadcastPermission", f"action:android.intent.action.SCREEN_ON, mPermissionType:{v.n(3)}"),
    lambda v: logcat(v, "E", "HwSystemManager", f"query db failed for uid {v.n(20000)} after {v.n(5000)} ms"),
    lambda v: logcat(v, "I", "chatty", f"uid={v.n(20000)}({v.pkg()}) Thread-{v.n(99)} identical {v.n(90)} lines"),
    lambda v: logcat(v, "W", "InputMethodManagerService", f"Window already focused, ignoring focus gain of: "
                     f"com.android.internal.view.IInputMethodClient$Stub$Proxy@{v.hex()} attribute=null, token = android.os.BinderProxy@{v.hex()}"),
]

FORMATS: dict[str, list[Template]] = {"HDFS": HDFS, "Zookeeper": ZOOKEEPER, "OpenSSH": OPENSSH, "Apache": APACHE, "Android": ANDROID}


def corpus(templates: list[Template], lines: int, rng: random.Random) -> list[tuple[int, str]]:
    weights = [rng.uniform(0.2, 3.0) for _ in templates]  # some templates common, some rare, as in real logs
    v = Vars(rng)
    picks = rng.choices(range(len(templates)), weights=weights, k=lines)
    picks[:len(templates)] = range(len(templates))  # every template at least once
    return [(t, templates[t](v)) for t in picks]


def grouping_accuracy(truth: list[int], groups: list[str]) -> float:
    """ICSE'19: the share of lines whose group has exactly the lines of their true group."""
    by_truth: dict[int, set[int]] = defaultdict(set)
    by_group: dict[str, set[int]] = defaultdict(set)
    for i, (t, g) in enumerate(zip(truth, groups, strict=True)):
        by_truth[t].add(i)
        by_group[g].add(i)
    correct = sum(len(members) for members in by_group.values() if members == by_truth[truth[next(iter(members))]])
    return correct / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=2000, help="lines per format")
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = []
    for name, templates in FORMATS.items():
        lines = corpus(templates, args.lines, rng)
        truth = [t for t, _ in lines]
        events = [parse_block(text, source="bench") for _, text in lines]
        v1 = [legacy_fingerprint(e) or fingerprint(e)[0] for e in events]
        masks_only = [fingerprint(e)[0] for e in events]
        miner = TemplateMiner()
        v2 = [fingerprint(e, miner=miner)[0] for e in events]
        rows.append((name, len(templates), grouping_accuracy(truth, v1), grouping_accuracy(truth, masks_only), grouping_accuracy(truth, v2),
                     len(set(v1)), len(set(v2))))
    print(f"{'format':<10} {'templates':>9} {'v1 masks':>9} {'v2 masks':>9} {'v2 +miner':>10} {'v1 groups':>10} {'v2 groups':>10}")
    for name, n, a1, am, a2, g1, g2 in rows:
        print(f"{name:<10} {n:>9} {a1:>9.3f} {am:>9.3f} {a2:>10.3f} {g1:>10} {g2:>10}")
    print(f"{'average':<10} {'':>9} {statistics.mean(r[2] for r in rows):>9.3f} {statistics.mean(r[3] for r in rows):>9.3f} "
          f"{statistics.mean(r[4] for r in rows):>10.3f}")


if __name__ == "__main__":
    main()
