"""`lvstui --daemon` as a real process, driven by the real CLI over its control socket.

One daemon (userspace dataplane, loopback real servers) serves the whole module; the
tests run in file order and each leaves the daemon as it found it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cli.harness import (
    Daemon,
    LoopbackServers,
    NotifyListener,
    free_port,
    lvstui,
    write_config,
)
from tests.helpers import REPO, wait_until

NAMES = ("alpha", "bravo", "charlie")


@dataclass
class Lab:
    dir: Path
    servers: LoopbackServers
    notify: NotifyListener
    daemon: Daemon
    vip_port: int

    @property
    def vip(self) -> str:
        return f"127.0.0.1:{self.vip_port}"

    def real(self, name: str) -> str:
        return f"127.0.0.1:{self.servers.port(name)}"

    def status(self) -> dict[str, object]:
        r = self.daemon.ctl("status", "--json")
        assert r.returncode == 0, r.stderr
        data: dict[str, object] = json.loads(r.stdout)
        return data

    def reals(self) -> dict[str, dict[str, object]]:
        (svc,) = self.status()["services"]  # type: ignore[misc]
        return {r["real"]: r for r in svc["real_servers"]}

    def write(self, **kw: object) -> None:
        ports = [self.servers.port(n) for n in NAMES]
        write_config(self.daemon.config, self.vip_port, ports, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    d = Path(tempfile.mkdtemp(prefix="lvt-cli-"))
    servers = LoopbackServers((*NAMES, "delta"))  # delta: not in the config
    notify = NotifyListener(d / "notify.sock")
    vip_port = free_port()
    cfg = write_config(d / "config.toml", vip_port, [servers.port(n) for n in NAMES])
    daemon = Daemon(cfg, d / "run" / "control.sock", d / "state", notify)
    try:
        daemon.start()
        yield Lab(d, servers, notify, daemon, vip_port)
    finally:
        daemon.kill()
        notify.close()
        servers.close()
        shutil.rmtree(d, ignore_errors=True)


def test_ready_status_and_socket(lab: Lab) -> None:
    msgs = lab.notify.poll()
    ready = next(m for m in msgs if "READY=1" in m.split("\n"))
    assert "STATUS=serving 1 virtual server(s)" in ready
    assert f"MAINPID={lab.daemon.proc.pid}" in ready  # type: ignore[union-attr]
    assert lab.daemon.sock.is_socket()
    out = lab.daemon.output()
    assert "control socket listening on" in out and "ready:" in out
    # uvloop is a dependency on Linux: the daemon (and its userspace forwarder) runs on it
    assert "event loop uvloop" in out


def test_list_in_ipvsadm_format(lab: Lab) -> None:
    # wait for the first checks: every real server up with its weight
    wait_until(lambda: all(r["health"] == "up" for r in lab.reals().values()), timeout=20)
    r = lab.daemon.ctl("list", "-n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "IP Virtual Server version 1.2.1 (size=4096)"
    assert lines[1] == "Prot LocalAddress:Port Scheduler Flags"
    assert lines[3] == f"TCP  {lab.vip} rr"
    rows = sorted(line.split()[1:3] for line in lines[4:])
    assert rows == sorted([lab.real(n), "Masq"] for n in NAMES)
    assert all(line.split()[3] == "1" for line in lines[4:])
    # the socket given before the sub-command (the top-level option) reaches it
    before = lvstui("--socket", str(lab.daemon.sock), "list", "-n")
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines()[:4] == lines[:4]
    stats = lab.daemon.ctl("list", "--stats", "--exact")
    assert stats.returncode == 0 and "Conns" in stats.stdout.splitlines()[1]
    data = json.loads(lab.daemon.ctl("list", "--json").stdout)
    (svc,) = data["services"]
    assert svc["service"] == f"TCP {lab.vip}"
    assert sorted(d["port"] for d in svc["real_servers"]) == sorted(
        lab.servers.port(n) for n in NAMES
    )


def test_status_text(lab: Lab) -> None:
    r = lab.daemon.ctl("status")
    assert r.returncode == 0, r.stderr
    assert "(no vrrp_instance)" in r.stdout
    assert f"TCP {lab.vip} rr NAT: quorum UP (live weight 3, quorum 1)" in r.stdout
    assert "http_get" in r.stdout and "last run" in r.stdout


def test_ctl_weight_forms_and_errors(lab: Lab) -> None:
    a = lab.real("alpha")
    r = lab.daemon.ctl("ctl", "weight", lab.vip, a, "3")
    assert r.returncode == 0, r.stderr
    assert lab.reals()[a]["weight"] == 3
    # ipvsadm-style options and `TCP VIP:PORT` as two words
    r = lab.daemon.ctl("ctl", "weight", "-t", lab.vip, "-r", a, "config")
    assert r.returncode == 0, r.stderr
    assert lab.reals()[a]["weight"] == 1
    r = lab.daemon.ctl("ctl", "weight", "TCP", lab.vip, a, "2")
    assert r.returncode == 0 and lab.reals()[a]["weight"] == 2
    lab.daemon.ctl("ctl", "weight", lab.vip, a, "config")
    # refused by the engine: exit 1 and why
    r = lab.daemon.ctl("ctl", "drain", lab.vip, "127.0.0.1:9")
    assert r.returncode == 1
    assert "127.0.0.1:9 is not a real server of" in r.stderr
    # usage errors: exit 2
    r = lab.daemon.ctl("ctl", "weight", lab.vip, a)
    assert r.returncode == 2 and "give the weight" in r.stderr
    r = lab.daemon.ctl("ctl", "drain", "not-an-address", a)
    assert r.returncode == 2
    audit = (lab.daemon.state / "audit.log").read_text().splitlines()
    kinds = [json.loads(line)["command"]["kind"] for line in audit]
    assert kinds[-5:] == ["weight", "weight", "weight", "weight", "drain"]


def test_drain_wait_reaches_safe_then_undrain(lab: Lab) -> None:
    b = lab.real("bravo")
    r = lab.daemon.ctl("ctl", "drain", lab.vip, b, "--wait", "--wait-timeout", "20")
    assert r.returncode == 0, r.stderr
    assert f"{b} is idle: safe for maintenance" in r.stdout
    assert lab.reals()[b]["drain"] == "safe"
    assert lab.reals()[b]["weight"] == 0
    r = lab.daemon.ctl("ctl", "undrain", lab.vip, b)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: lab.reals()[b]["drain"] == "none", timeout=5)
    assert lab.reals()[b]["weight"] == 1


def test_reload_dry_run_then_sighup(lab: Lab) -> None:
    lab.write(extra='persistence_timeout = 30\nname = "web"')
    r = lab.daemon.ctl("ctl", "reload", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "dry run, nothing applied" in r.stdout
    assert "persistence" in r.stdout  # the difference, one change a line
    assert "persistent" not in lab.daemon.ctl("list").stdout
    mark = len(lab.notify.poll())
    lab.daemon.signal(signal.SIGHUP)
    i = lab.notify.wait_for("RELOADING=1", after=mark)
    lab.notify.wait_for("READY=1", after=i)
    assert f"TCP  {lab.vip} rr persistent 30" in lab.daemon.ctl("list").stdout


def test_broken_config_is_rejected_and_keeps_serving(lab: Lab) -> None:
    good = lab.daemon.config.read_text()
    lab.daemon.config.write_text(good + "\n[[virtual_server]]\nport = 'eighty'\n")
    try:
        r = lab.daemon.ctl("ctl", "reload")
        assert r.returncode == 1
        assert "configuration rejected" in r.stderr
        assert f"TCP  {lab.vip} rr persistent 30" in lab.daemon.ctl("list").stdout
    finally:
        lab.daemon.config.write_text(good)
    # back to the plain config (no persistence: the traffic tests below need rr per request)
    lab.write()
    r = lab.daemon.ctl("ctl", "reload")
    assert r.returncode == 0, r.stderr
    assert f"TCP  {lab.vip} rr\n" in lab.daemon.ctl("list").stdout


def test_real_server_killed_then_back(lab: Lab) -> None:
    c = lab.real("charlie")
    lab.servers.kill("charlie")
    try:
        wait_until(lambda: lab.reals()[c]["health"] == "down", timeout=15)
        assert lab.reals()[c]["weight"] == 0
    finally:
        lab.servers.revive("charlie")
    wait_until(lambda: lab.reals()[c]["health"] == "up", timeout=15)
    assert lab.reals()[c]["weight"] == 1


def get(lab: Lab) -> str:
    """One request through the VIP: the name of the real server that answered, or the error."""
    try:
        r = httpx.get(f"http://{lab.vip}/", timeout=5.0)
    except httpx.TransportError as exc:
        return f"error: {type(exc).__name__}"
    return r.text.strip().removeprefix("Hello from ")


def test_traffic_through_the_vip_while_a_server_dies_and_recovers(lab: Lab) -> None:
    wait_until(lambda: {get(lab) for _ in range(6)} == set(NAMES), timeout=20, interval=0.1)
    lab.servers.kill("bravo")
    try:
        # out of rotation within delay_loop + connect_timeout (+ margin for slow CI)
        wait_until(
            lambda: {get(lab) for _ in range(6)} == {"alpha", "charlie"}, timeout=15, interval=0.1
        )
        answers = [get(lab) for _ in range(30)]
        assert set(answers) == {"alpha", "charlie"}, answers  # no failed request any more
        assert lab.reals()[lab.real("bravo")]["health"] == "down"
    finally:
        lab.servers.revive("bravo")
    wait_until(lambda: "bravo" in {get(lab) for _ in range(6)}, timeout=15, interval=0.1)
    assert {get(lab) for _ in range(6)} == set(NAMES)


def test_reloads_lose_no_request(lab: Lab) -> None:
    """Traffic runs through the VIP while a good reload (SIGHUP) and a broken one happen."""
    wait_until(lambda: {get(lab) for _ in range(6)} == set(NAMES), timeout=20, interval=0.1)
    answers: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set() and len(answers) < 5000:
            answers.append(get(lab))

    t = threading.Thread(target=traffic)
    t.start()
    good = lab.daemon.config.read_text()
    try:
        wait_until(lambda: len(answers) >= 20, timeout=10)
        lab.write(extra='name = "reloaded"')
        mark = len(lab.notify.poll())
        lab.daemon.signal(signal.SIGHUP)
        lab.notify.wait_for("READY=1", after=lab.notify.wait_for("RELOADING=1", after=mark))
        n = len(answers)
        wait_until(lambda: len(answers) >= n + 20, timeout=10)
        lab.daemon.config.write_text(good + "\n[[virtual_server]]\nport = 'eighty'\n")
        assert lab.daemon.ctl("ctl", "reload").returncode == 1
        n = len(answers)
        wait_until(lambda: len(answers) >= n + 20, timeout=10)
    finally:
        stop.set()
        t.join(30)
        lab.daemon.config.write_text(good)
    assert lab.daemon.ctl("ctl", "reload").returncode == 0
    failed = [a for a in answers if a not in NAMES]
    assert failed == [] and len(answers) >= 60


def test_drain_waits_for_an_open_connection(lab: Lab) -> None:
    host, port = lab.vip.split(":")
    held = socket.create_connection((host, int(port)), timeout=5)
    try:
        held.sendall(b"GET / HTTP/1.1\r\nHost: demo\r\n")  # unfinished: the server waits
        busy: list[str] = []

        def one_active() -> bool:
            busy[:] = [k for k, r in lab.reals().items() if r["active_conns"] == 1]
            return len(busy) == 1

        wait_until(one_active, timeout=10, interval=0.1)
        (real,) = busy
        name = next(n for n in NAMES if lab.real(n) == real)
        waiter = subprocess.Popen(
            [
                *lab.daemon.ctl_argv(),
                *("ctl", "drain", lab.vip, real, "--wait", "--wait-timeout", "60"),
                *("--socket", str(lab.daemon.sock)),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: lab.reals()[real]["drain"] == "draining", timeout=10)
            # no new connection goes to it, and the drain is not over while one is open
            assert name not in {get(lab) for _ in range(8)}
            assert waiter.poll() is None
            assert lab.reals()[real]["drain"] == "draining"
            held.sendall(b"\r\n")
            reply = held.recv(4096)
            assert f"Hello from {name}".encode() in reply
        finally:
            held.close()
            out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, err
        assert f"{real}: draining, 1 active" in out
        assert out.rstrip().endswith(f"{real} is idle: safe for maintenance")
    finally:
        held.close()
        assert lab.daemon.ctl("ctl", "undrain", lab.vip, lab.real(name)).returncode == 0
    wait_until(lambda: lab.reals()[real]["drain"] == "none", timeout=5)


def test_ctl_add_and_remove_at_run_time(lab: Lab) -> None:
    delta = lab.real("delta")
    r = lab.daemon.ctl("ctl", "add", lab.vip, delta, "--weight", "2")
    assert r.returncode == 0, r.stderr
    assert f"  -> {delta}" in lab.daemon.ctl("list").stdout
    assert lab.reals()[delta]["weight"] == 2
    wait_until(lambda: "delta" in {get(lab) for _ in range(10)}, timeout=10, interval=0.1)
    r = lab.daemon.ctl("ctl", "remove", "-t", lab.vip, "-r", delta)
    assert r.returncode == 0, r.stderr
    assert delta not in lab.daemon.ctl("list").stdout
    assert "delta" not in {get(lab) for _ in range(10)}


def test_second_daemon_on_the_same_socket_is_refused(lab: Lab) -> None:
    other = Daemon(lab.daemon.config, lab.daemon.sock, lab.dir / "state2", lab.notify)
    other.start(wait_ready=False)
    assert other.proc is not None
    rc = other.proc.wait(30)
    assert rc == 1
    assert "another lvstui daemon already answers on" in other.output()
    assert lab.daemon.ctl("list").returncode == 0  # the first one is untouched


def test_overrides_survive_a_restart_and_sigterm_exits_0(lab: Lab) -> None:
    a = lab.real("alpha")
    assert lab.daemon.ctl("ctl", "weight", lab.vip, a, "7").returncode == 0
    mark = len(lab.notify.poll())
    assert lab.daemon.stop() == 0
    lab.notify.wait_for("STOPPING=1", after=mark)
    assert "stopped" in lab.daemon.output()
    assert not lab.daemon.sock.exists()
    assert lvstui("list", "--socket", str(lab.daemon.sock)).returncode == 3
    lab.daemon.start()
    assert lab.reals()[a]["weight"] == 7
    assert lab.reals()[a]["weight_config"] == 1
    assert lab.daemon.ctl("ctl", "weight", lab.vip, a, "config").returncode == 0


def test_stale_socket_after_a_crash_is_replaced(lab: Lab) -> None:
    lab.daemon.kill()  # SIGKILL: the socket file stays behind
    assert lab.daemon.sock.is_socket()
    lab.daemon.start()
    assert lab.daemon.ctl("list").returncode == 0


def test_second_daemon_side_by_side_with_its_own_paths(lab: Lab) -> None:
    d = lab.dir / "b"
    d.mkdir()
    port = free_port()
    cfg = write_config(d / "config.toml", port, [lab.servers.port("alpha")])
    notify = NotifyListener(d / "n.sock")
    other = Daemon(cfg, d / "c.sock", d / "state", notify)
    try:
        other.start()
        r = other.ctl("list")
        assert r.returncode == 0 and f"TCP  127.0.0.1:{port} rr" in r.stdout
        assert f"127.0.0.1:{lab.vip_port}" not in r.stdout
        assert lab.daemon.ctl("list").returncode == 0
        assert other.stop() == 0
    finally:
        other.kill()
        notify.close()


def _bash_words(line: str) -> list[str]:
    """COMP_WORDS as bash makes them: split at blanks, and ':' (in COMP_WORDBREAKS) a word of
    its own."""
    words: list[str] = []
    for blank_word in line.split(" "):
        parts = blank_word.split(":")
        for i, part in enumerate(parts):
            if i:
                words.append(":")
            if part or i == len(parts) - 1:
                words.append(part)
    return [w for w in words[:-1] if w] + words[-1:]


def _lvstui_shim(tmp_path: Path) -> Path:
    """An `lvstui` on PATH for the shell under test (the scripts call it back)."""
    shim = tmp_path / "bin" / "lvstui"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\ncd {REPO} && exec {sys.executable} -m lvstui "$@"\n')
    shim.chmod(0o755)
    return shim


def _completes_the_parser(complete: Callable[[str], list[str]]) -> None:
    """What any shell's script completes from the parser alone."""
    assert complete("lvstui ct") == ["ctl"]
    assert complete("lvstui comp") == ["completion"]
    assert complete("lvstui ctl un") == ["undrain", "undrain-director"]
    assert complete("lvstui ctl drain --wa") == ["--wait", "--wait-timeout"]


def test_bash_completion_from_the_parser_and_the_daemon(lab: Lab, tmp_path: Path) -> None:
    """`lvstui completion bash` loaded in a real bash completes sub-commands, options, and
    ctl's services and real servers from the running daemon (through `lvstui __complete`)."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash on this host")
    r = lvstui("completion", "bash")
    assert r.returncode == 0, r.stderr
    (tmp_path / "lvstui.bash").write_text(r.stdout)
    shim = _lvstui_shim(tmp_path)
    sock = lab.daemon.sock

    def complete(line: str) -> list[str]:
        words = " ".join(shlex.quote(w) for w in _bash_words(line))
        driver = (
            f"source {tmp_path / 'lvstui.bash'}\n"
            f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}\n"
            f"COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
            'COMPREPLY=(); _shtab_lvstui; printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"}
        argv = [bash, "--norc", "--noprofile", "-c", driver]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
        assert out.returncode == 0, out.stderr
        return sorted(w for w in out.stdout.splitlines() if w)

    _completes_the_parser(complete)
    base = f"lvstui ctl drain --socket {sock} "
    assert complete(base) == [lab.vip]
    # bash replaces only what follows the last ':', so that is what comes back
    assert complete(base + "127.0.0.1:") == [str(lab.vip_port)]
    reals = sorted(lab.real(n) for n in NAMES)
    assert complete(base + lab.vip + " ") == reals
    assert complete(base + lab.vip + " 127.0.0.1:") == sorted(r.split(":")[1] for r in reals)
    assert complete(f"lvstui ctl drain --socket {sock} -t ") == [lab.vip]
    # no daemon: nothing offered, and nothing printed into the prompt
    assert complete(f"lvstui ctl drain --socket {tmp_path / 'none.sock'} ") == []


def test_zsh_completion_from_the_parser_and_the_daemon(lab: Lab, tmp_path: Path) -> None:
    """`lvstui completion zsh`, loaded by compinit in a real interactive zsh (on a pty),
    completes sub-commands, options, and ctl's services and real servers from the running
    daemon."""
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("no zsh on this host (apt zsh; .ci/apt.d/completion.txt)")
    r = lvstui("completion", "zsh")
    assert r.returncode == 0, r.stderr
    comp = tmp_path / "comp"
    comp.mkdir()
    (comp / "_lvstui").write_text(r.stdout)
    driver = Path(__file__).with_name("complete.zsh")
    shim = _lvstui_shim(tmp_path)
    sock = lab.daemon.sock
    out = tmp_path / "matches"

    def complete(line: str, patience: int = 200) -> list[str]:
        env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"}
        argv = [zsh, "-f", str(driver), str(comp), str(out), line, str(patience)]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=90, env=env, check=False
        )
        assert done.returncode == 0, (done.stdout, done.stderr)
        return sorted({w for w in out.read_text().splitlines() if w and w != "__DONE__"})

    _completes_the_parser(complete)
    base = f"lvstui ctl drain --socket {sock} "
    assert complete(base) == [lab.vip]
    reals = sorted(lab.real(n) for n in NAMES)
    assert complete(base + lab.vip + " ") == reals
    # zsh keeps VIP:PORT one word: a typed prefix narrows the real servers as they are
    first = reals[0]
    assert complete(base + lab.vip + " " + first[:-1]) == [first]
    assert complete(f"lvstui ctl drain --socket {sock} -t ") == [lab.vip]
    assert complete(f"lvstui ctl drain --socket {sock} -t {lab.vip} -r ") == reals
    # no daemon: nothing offered (and the line is left as it was)
    assert complete(f"lvstui ctl drain --socket {tmp_path / 'none.sock'} ", patience=40) == []
