"""An operator's abuse of a running daemon on loopback: garbage on the control socket, wrong
commands, and real servers that misbehave behind the userspace forwarder. The daemon answers
every bad request with an error and keeps serving; the forwarder keeps serving the good real
servers whatever the bad ones do."""

from __future__ import annotations

import collections
import json
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli.harness import Daemon, NotifyListener

SERVICE = '{"protocol":"TCP","addr":"127.0.0.1","port":%d}'


class Servers:
    """Real servers in threads: two good HTTP ones and three bad ones."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.socks: dict[str, socket.socket] = {}
        self.held: list[socket.socket] = []
        self.threads = []
        for name in ("good1", "good2", "blackhole", "reset", "close"):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(128)
            s.settimeout(0.1)
            self.socks[name] = s
            t = threading.Thread(target=self._serve, args=(name, s), daemon=True)
            t.start()
            self.threads.append(t)

    def port(self, name: str) -> int:
        return int(self.socks[name].getsockname()[1])

    def _serve(self, name: str, s: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                c, _ = s.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if name == "blackhole":  # accepts, never reads, never answers
                self.held.append(c)
            elif name == "reset":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            elif name == "close":
                c.close()
            else:
                threading.Thread(target=self._http, args=(name, c), daemon=True).start()

    @staticmethod
    def _http(name: str, c: socket.socket) -> None:
        with c:
            c.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n" + name.encode())
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(5)
        for s in [*self.socks.values(), *self.held]:
            s.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Daemon, Servers, int]]:
    servers = Servers()
    d = Path(tempfile.mkdtemp(prefix="lvt-qa-trials-"))
    notify = NotifyListener(d / "notify.sock")
    vport = _free_port()
    reals = "".join(
        f'[[virtual_server.real_server]]\nip = "127.0.0.1"\nport = {servers.port(n)}\n'
        for n in ("good1", "good2", "blackhole", "reset", "close")
    )
    cfg = d / "config.toml"
    cfg.write_text(
        '[global_defs]\nrouter_id = "qa"\n[lvstui]\ndataplane = "userspace"\n'
        f'[[virtual_server]]\nip = "127.0.0.1"\nport = {vport}\nlb_algo = "rr"\n{reals}'
    )
    daemon = Daemon(cfg, d / "c.sock", d / "state", notify)
    try:
        daemon.start()
        yield daemon, servers, vport
    finally:
        daemon.kill()
        notify.close()
        servers.close()
        shutil.rmtree(d, ignore_errors=True)


def _talk(sock: Path, *lines: bytes, replies: int = 1) -> list[dict[str, object]]:
    """Send raw lines, read `replies` JSON replies (bounded)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock))
        for line in lines:
            s.sendall(line)
        buf = b""
        while buf.count(b"\n") < replies:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return [json.loads(x) for x in buf.split(b"\n") if x][:replies]


def _get(port: int) -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError as exc:
        return type(exc).__name__
    return data.partition(b"\r\n\r\n")[2].decode() if data.startswith(b"HTTP/1.0 200") else "bad"


BAD_LINES = {
    "text": (b"hello world\n", "bad_json"),
    "list": (b"[1, 2, 3]\n", "bad_json"),
    "not-utf8": (b'{"v":1,"type":"hello","id":"\xff\xfe"}\n', "bad_json"),
    "no-version": (b'{"type":"hello","id":1}\n', "version"),
    "unknown-type": (b'{"v":1,"type":"frobnicate","id":1}\n', "bad_type"),
    "unknown-kind": (
        b'{"v":1,"type":"call","id":2,"command":{"kind":"explode"}}\n',
        "unknown_kind",
    ),
    "no-command": (b'{"v":1,"type":"call","id":2}\n', "bad_value"),
    "huge": (b"x" * (200 * 1024) + b"\n", "too_long"),
    "deep": (b"[" * 100000 + b"]" * 100000 + b"\n", "too_long"),
}
HELLO = b'{"v":1,"type":"hello","id":9}\n'


@pytest.mark.parametrize("name", list(BAD_LINES))
def test_bad_lines_get_an_error_and_the_daemon_serves_on(
    env: tuple[Daemon, Servers, int], name: str
) -> None:
    daemon, _servers, _port = env
    line, code = BAD_LINES[name]
    if code == "too_long":  # no way to find the next line: the daemon answers and hangs up
        (reply,) = _talk(daemon.sock, line)
    else:  # the same connection goes on after the error
        reply, hello = _talk(daemon.sock, line, HELLO, replies=2)
        assert hello["type"] == "hello" and hello["id"] == 9, hello
    assert reply["type"] == "error" and reply["code"] == code, reply
    (hello,) = _talk(daemon.sock, HELLO)
    assert hello["type"] == "hello", hello


@pytest.mark.parametrize(
    ("command", "expect"),
    [
        (
            '{"kind":"drain","service":SVC,"real":{"addr":"127.0.0.9","port":1}}',
            "not a real server",
        ),
        (
            '{"kind":"remove","service":SVC,"real":{"addr":"127.0.0.9","port":1}}',
            "not a real server",
        ),
        (
            '{"kind":"drain","service":' + SERVICE % 1 + ',"real":{"addr":"127.0.0.1","port":1}}',
            "no virtual service",
        ),
        ('{"kind":"weight","service":SVC,"real":REAL,"weight":"heavy"}', "expected an integer"),
        ('{"kind":"weight","service":SVC,"real":REAL,"weight":2.5}', "expected an integer"),
        ('{"kind":"weight","service":SVC,"real":REAL,"weight":-5}', "out of range"),
        (
            '{"kind":"weight","service":SVC,"real":REAL,"weight":99999999999999999999}',
            "out of range",
        ),
        ('{"kind":"drain","service":SVC,"real":REAL,"timeout":"soon"}', "expected a finite number"),
        ('{"kind":"drain","service":SVC,"real":REAL,"timeout":-1}', "must be"),
        ('{"kind":"reload","dry_run":"yes"}', "expected true or false"),
    ],
)
def test_wrong_commands_are_refused(
    env: tuple[Daemon, Servers, int], command: str, expect: str
) -> None:
    daemon, servers, port = env
    real = '{"addr":"127.0.0.1","port":' + str(servers.port("good1")) + "}"
    cmd = command.replace("SVC", SERVICE % port).replace("REAL", real)
    (reply,) = _talk(daemon.sock, b'{"v":1,"type":"call","id":5,"command":%s}\n' % cmd.encode())
    text = json.dumps(reply)
    assert reply["type"] == "error" or reply["result"]["ok"] is False, reply  # type: ignore[index]
    assert expect in text, text
    listing = daemon.ctl("list").stdout
    assert f"127.0.0.1:{servers.port('good1')}              Masq    1" in listing, listing


@pytest.mark.parametrize(
    "real", ['{"addr":"999.1.1.1","port":80}', '{"addr":"127.0.0.1","port":70000}']
)
def test_add_of_an_impossible_real_server_is_refused(
    env: tuple[Daemon, Servers, int], real: str
) -> None:
    """Was accepted, persisted to overrides.toml, and then stopped the daemon from starting."""
    daemon, _servers, port = env
    cmd = '{"kind":"add","service":' + SERVICE % port + ',"real":' + real + ',"weight":1}'
    try:
        (reply,) = _talk(daemon.sock, b'{"v":1,"type":"call","id":6,"command":%s}\n' % cmd.encode())
        assert reply["type"] == "error" or reply["result"]["ok"] is False, reply  # type: ignore[index]
    finally:  # never leave it in the daemon's overrides for the other tests
        rm = cmd.replace('"kind":"add"', '"kind":"remove"').replace(',"weight":1', "")
        _talk(daemon.sock, b'{"v":1,"type":"call","id":7,"command":%s}\n' % rm.encode())


def test_misbehaving_real_servers_do_not_hurt_the_good_ones(
    env: tuple[Daemon, Servers, int],
) -> None:
    daemon, _servers, port = env
    with ThreadPoolExecutor(20) as pool:
        answers = collections.Counter(pool.map(lambda _i: _get(port), range(100)))
    # round robin over five: the good two answer their share, whatever the three bad ones do
    assert answers["good1"] == 20 and answers["good2"] == 20, answers
    assert (
        answers["good1"]
        + answers["good2"]
        + sum(n for a, n in answers.items() if a not in ("good1", "good2"))
        == 100
    )
    assert daemon.proc is not None and daemon.proc.poll() is None
    (reply,) = _talk(daemon.sock, b'{"v":1,"type":"hello","id":1}\n')
    assert reply["type"] == "hello"
    assert "Traceback" not in daemon.output(), daemon.output()[-3000:]
