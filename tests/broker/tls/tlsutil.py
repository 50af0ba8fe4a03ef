"""Helpers for the TLS tests: a broker with TLS listeners, TLS clients (Python's ssl, mosquitto's
command-line clients, openssl s_client), checks on moted's log, and a proxy that sees TLS records.

Every failed handshake must leave exactly one line in moted's log that names the peer, the cause
and what to do; expect_line() checks that, and checks that no other line names the same peer.
"""

import os
import re
import select
import socket
import ssl
import subprocess
import threading
import time

import broker
import certs
import mqtt_bytes as m

WAIT = 5.0  # seconds for anything that should happen at once


# ---------------------------------------------------------------------------------------------
# Brokers

def keys(cert="server.crt", key="server.key", cafile="ca.crt", **more):
    """Listener lines for a TLS listener: certfile, keyfile, cafile (None: none) and any other key
    given as a keyword (require_certificate=True -> "require_certificate true")."""
    lines = ["certfile " + (cert if os.sep in cert else certs.path(cert)),
             "keyfile " + (key if os.sep in key else certs.path(key))]
    if cafile:
        lines.append("cafile " + (cafile if os.sep in cafile else certs.path(cafile)))
    for name, value in more.items():
        if value is None:
            continue
        if value is True or value is False:
            value = "true" if value else "false"
        lines.append("%s %s" % (name, value))
    return "\n".join(lines) + "\n"


class TLSBroker(broker.Broker):
    """with TLSBroker(keys(...), plain=True) as b: ... b.tls_port, b.plain_port

    One TLS listener (on b.port, the port the harness probes), or with plain=True a plain MQTT
    listener on b.port and the TLS listener on a second free port. tls may be a function of the
    broker, for listener lines that name files in b.dir. Global keys (handshake_timeout 1, ...)
    go in `extra`. The log has every type (`log_type all`): the checks below read its debug
    lines (new connections, handshake results)."""

    def __init__(self, tls, plain=False, extra="", anonymous=True):
        broker.Broker.__init__(self)
        if callable(tls):  # tls(self): listener lines that may name files in self.dir
            tls = tls(self)
        head = "log_type all\npersistence false\nallow_anonymous %s\n" % ("true" if anonymous else "false")
        head += extra
        self._tls_port = broker.free_port() if plain else None
        if plain:
            self.template = head + "listener {port} 127.0.0.1\nlistener %d 127.0.0.1\n" % self._tls_port + tls
        else:
            self.template = head + "listener {port} 127.0.0.1\n" + tls

    def start(self):
        broker.Broker.start(self)
        # The harness's readiness probe connects and closes: wait until the log has it, so
        # that it is never taken for a test's client (see only_peer).
        try:
            wait_line(self, 0, "connection from", "closed", timeout=2)
        except AssertionError:
            pass

    @property
    def tls_port(self):
        return self._tls_port or self.port

    @property
    def plain_port(self):
        assert self._tls_port, "this broker has no plain listener"
        return self.port


# ---------------------------------------------------------------------------------------------
# The log

def mark(b):
    """A position in the broker's log: later checks look only at what comes after it."""
    try:
        return os.path.getsize(b.log_path)
    except OSError:
        return 0


def lines_since(b, pos):
    with open(b.log_path, "rb") as f:
        f.seek(pos)
        data = f.read()
    # Only whole lines: the broker may be in the middle of writing one.
    return data[:data.rfind(b"\n") + 1].decode("utf-8", "replace").splitlines()


def level(line):
    """'notice' from '2026-01-01T00:00:00 moted notice: ...'."""
    parts = line.split(" ", 3)
    return parts[2].rstrip(":") if len(parts) > 2 else ""


def names_peer(line, peer):
    return re.search(r"(?<![\d.])%s(?!\d)" % re.escape(peer), line) is not None


def wait_line(b, pos, *words, timeout=WAIT):
    """The first line after pos that contains every word; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        for line in lines_since(b, pos):
            if all(w in line for w in words):
                return line
        if time.monotonic() > deadline:
            raise AssertionError("no log line with %r within %.1f s; log since the mark:\n  %s" % (
                words, timeout, "\n  ".join(lines_since(b, pos)[-15:]) or "(nothing)"))
        time.sleep(0.05)


def expect_line(b, pos, peer, *words, timeout=WAIT, anywhere=False):
    """Exactly one line (debug lines aside) after pos names peer ("127.0.0.1:PORT"): it starts
    the message with "PEER: " (or, with anywhere=True, names it anywhere) and contains every
    word. Returns it."""
    line = wait_line(b, pos, peer if anywhere else "%s: " % peer, *words, timeout=timeout)
    time.sleep(0.2)  # a second line about the same peer would come at once
    about = [l for l in lines_since(b, pos) if names_peer(l, peer) and level(l) != "debug"]
    assert len(about) == 1, "expected one log line about %s, found %d:\n  %s" % (
        peer, len(about), "\n  ".join(about))
    return line


def expect_lines(b, pos, peers, *words, timeout=WAIT):
    """expect_line() for many peers at once."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [l for l in lines_since(b, pos) if level(l) != "debug"]
        missing = [p for p in peers if not any(l.split(" ", 3)[-1].startswith("%s: " % p) and
                                                all(w in l for w in words) for l in lines)]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise AssertionError("no log line with %r for %d of %d peers (%s ...)" % (
                words, len(missing), len(peers), missing[0]))
        time.sleep(0.05)
    time.sleep(0.2)
    lines = [l for l in lines_since(b, pos) if level(l) != "debug"]
    for p in peers:
        about = [l for l in lines if names_peer(l, p)]
        assert len(about) == 1, "expected one log line about %s, found %d:\n  %s" % (p, len(about), "\n  ".join(about))


def new_peers(b, pos, port):
    """Peers whose connection to port the broker accepted after pos (from its debug lines)."""
    return re.findall(r"new connection from (\S+) on port %d\b" % port, "\n".join(lines_since(b, pos)))


def only_peer(b, pos, port, timeout=WAIT):
    """The one peer that connected to port after pos (a command-line client: we cannot choose
    its source port, so we read it from the broker's 'new connection' line)."""
    deadline = time.monotonic() + timeout
    while not new_peers(b, pos, port) and time.monotonic() < deadline:
        time.sleep(0.05)
    peers = new_peers(b, pos, port)
    assert len(peers) == 1, "expected one new connection on port %d, the log shows %s" % (port, peers)
    return peers[0]


def wait_closed(sock, timeout=WAIT):
    """Reads (and ignores: a TLS alert, say) until the other side closes; AssertionError if it
    is still open after timeout. Returns the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection still open after %.1f s" % timeout)
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):  # an alert, then the close
            return time.monotonic() - start


def peer_of(sock):
    host, port = sock.getsockname()[:2]
    return "%s:%d" % (host, port)


# ---------------------------------------------------------------------------------------------
# Python TLS clients

def context(ca="ca.crt", cert=None, key=None, version=None):
    """A client context trusting ca; cert/key: a client certificate; version: the only
    ssl.TLSVersion it may use."""
    ctx = ssl.create_default_context(cafile=certs.path(ca))
    if cert:
        ctx.load_cert_chain(certs.path(cert), certs.path(key))
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def raw_sock(b, port=None, timeout=m.DEFAULT_TIMEOUT):
    """A plain TCP connection to the TLS listener (closed at the end)."""
    s = socket.create_connection(("127.0.0.1", port or b.tls_port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    b.socks.append(s)
    return s


def tls_sock(b, ctx=None, port=None, session=None, timeout=m.DEFAULT_TIMEOUT):
    """A TCP connection to the TLS listener, with the handshake done (closed at the end)."""
    raw = raw_sock(b, port, timeout)
    s = (ctx or context()).wrap_socket(raw, server_hostname="localhost", session=session)
    b.socks.append(s)
    return s


def tls_client(b, client_id, proto=m.V311, ctx=None, port=None, session=None, **connect_kw):
    """tls_sock(), then CONNECT and a successful CONNACK."""
    s = tls_sock(b, ctx, port, session)
    s.sendall(m.connect(client_id, proto=proto, **connect_kw))
    m.expect_connack(s, 0, False, proto)
    return s


def round_trip(sub, pub, topic, payload, proto=m.V311):
    """sub is subscribed to topic (QoS 0); pub publishes; sub must receive it."""
    pub.sendall(m.publish(topic, payload, proto=proto))
    m.expect_publish(sub, topic, payload, proto=proto)


class MemoryHandshake:
    """A client handshake driven by hand over a plain socket (ssl.MemoryBIO), so a test can
    stop at any point: hello() sends the ClientHello, flight() reads the server's answer and
    feeds it in, and the test closes the socket when it wants."""

    def __init__(self, b, ctx=None, version=None):
        self.sock = raw_sock(b)
        self.peer = peer_of(self.sock)
        self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = (ctx or context(version=version)).wrap_bio(self.inb, self.outb,
                                                              server_hostname="localhost")
        self.received = b""
        self.done = False

    def step(self):
        try:
            self.obj.do_handshake()
            self.done = True
        except ssl.SSLWantReadError:
            pass
        return self.outb.read()

    def hello(self):
        data = self.step()
        assert data[:1] == b"\x16", "no ClientHello from Python's ssl"
        return data

    def flight(self, settle=0.5):
        """Reads everything the server sends until it has been quiet for `settle` seconds."""
        got = b""
        self.sock.settimeout(settle)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
        self.received += got
        self.inb.write(got)
        return got


# ---------------------------------------------------------------------------------------------
# Command-line clients

def run(cmd, timeout=10, stdin=b""):
    """Runs a command to the end; (status, output as text)."""
    r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, preexec_fn=broker._die_with_parent)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def mosq_args(port, version="mqttv311", ca="ca.crt", cert=None, key=None):
    args = ["-h", "127.0.0.1", "-p", str(port), "-V", version]
    if ca:
        args += ["--cafile", certs.path(ca)]
    if cert:
        args += ["--cert", certs.path(cert), "--key", certs.path(key)]
    return args


def mosquitto_pub(port, topic, message, ok=True, **kw):
    """mosquitto_pub -t topic -m message; asserts success (or failure with ok=False); returns
    (status, output)."""
    extra = kw.pop("args", [])
    cmd = ["mosquitto_pub"] + mosq_args(port, **kw) + ["-t", topic, "-m", message] + extra
    rc, out = run(cmd)
    if ok:
        assert rc == 0, "%s: status %d: %s" % (" ".join(cmd), rc, out.strip())
    else:
        assert rc != 0, "%s succeeded, it should have failed: %s" % (" ".join(cmd), out.strip())
    return rc, out


class MosquittoSub:
    """mosquitto_sub -C 1 in the background; waits for its SUBACK (-d shows it)."""

    def __init__(self, port, topic, **kw):
        extra = kw.pop("args", [])
        cmd = ["stdbuf", "-oL", "mosquitto_sub"] + mosq_args(port, **kw) + \
              ["-t", topic, "-C", "1", "-W", "10", "-d", "-F", "MSG %t %p"] + extra
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=broker._die_with_parent)
        self.lines = []
        self.cond = threading.Condition()
        self.ended = False
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(lambda l: l.startswith("Subscribed (mid:"), "its SUBACK")

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wait_for(self, pred, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines:
                    if pred(l):
                        return l
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    self.close()
                    raise AssertionError("mosquitto_sub: no %s (%s); output: %s" % (
                        what, "it exited" if self.ended else "timeout", " | ".join(self.lines[-8:])))
                self.cond.wait(left)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


def s_client(port, *args, stdin=b"", timeout=10):
    """openssl s_client against 127.0.0.1:port with SNI localhost; (status, output)."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
           "-nocommands"] + list(args)
    return run(cmd, timeout=timeout, stdin=stdin)


# ---------------------------------------------------------------------------------------------
# A TCP proxy that splits what the server sends into TLS records

class RecordProxy:
    """Listens on a free port and forwards each connection to the broker's TLS port, cutting the
    server's bytes into TLS records: self.records is a list of (content type, length,
    encrypted?), where encrypted means after the server's ChangeCipherSpec (TLS 1.2), and
    self.handshake the plaintext handshake messages as (type, length)."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.records = []
        self.handshake = []
        self.upstream_peer = None
        self._buf = b""
        self._hs = b""
        self._encrypted = False
        self._stop = False
        self._threads = [threading.Thread(target=self._serve, daemon=True)]
        self._threads[0].start()

    def _serve(self):
        self.lsock.settimeout(0.2)
        while not self._stop:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            self.upstream_peer = peer_of(u)
            self._pump(c, u)
            return

    def _pump(self, c, u):
        socks = [c, u]
        try:
            while not self._stop:
                r, _, _ = select.select(socks, [], [], 0.2)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (u if s is c else c).sendall(data)
                    if s is u:
                        self._parse(data)
        except OSError:
            pass
        finally:
            c.close()
            u.close()

    def _parse(self, data):
        self._buf += data
        while len(self._buf) >= 5:
            ctype, length = self._buf[0], int.from_bytes(self._buf[3:5], "big")
            if len(self._buf) < 5 + length:
                return
            body, self._buf = self._buf[5:5 + length], self._buf[5 + length:]
            self.records.append((ctype, length, self._encrypted))
            if ctype == 20:
                self._encrypted = True
            elif ctype == 22 and not self._encrypted:
                self._hs += body
                while len(self._hs) >= 4 and len(self._hs) >= 4 + int.from_bytes(self._hs[1:4], "big"):
                    n = int.from_bytes(self._hs[1:4], "big")
                    self.handshake.append((self._hs[0], n))
                    self._hs = self._hs[4 + n:]

    def close(self):
        self._stop = True
        self.lsock.close()
        for t in self._threads:
            t.join(2)


# ---------------------------------------------------------------------------------------------
# A client that keeps publishing, to show that nothing stalls the others

class Heartbeat:
    """A TLS client that publishes QoS 1 every 50 ms and times each PUBACK; max_gap() is the
    longest time without a PUBACK while it ran."""

    def __init__(self, b, client_id="heartbeat"):
        self.sock = tls_client(b, client_id)
        self.acks = []
        self.error = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()
        self.thread.start()

    def _run(self):
        mid = 0
        try:
            while not self._stop.is_set():
                mid = mid % 65535 + 1
                self.sock.sendall(m.publish("heartbeat", b"beat", qos=1, mid=mid))
                m.expect_packet(self.sock, m.puback(mid), "PUBACK", timeout=5)
                self.acks.append(time.monotonic())
                self._stop.wait(0.05)
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self._stop.set()
        self.thread.join(10)
        if self.error:
            raise AssertionError("the heartbeat client failed: %r" % self.error)
        times = [self.started] + self.acks + [time.monotonic()]
        return max(b - a for a, b in zip(times, times[1:])), len(self.acks)
