"""Start one broker per test, on 127.0.0.1 and a free port, from a config text the test gives.

MOTE_TEST_BROKER chooses the broker: "mosquitto" (default: /usr/sbin/mosquitto or mosquitto on
PATH) or a path to moted. Both are run as `BROKER -c FILE` with the same Mosquitto config keys.
"""

import ctypes
import os
import signal
import socket
import subprocess
import tempfile
import time

import mqtt_bytes as m

# The config every test starts from; {port} is filled in. Tests append their own keys.
DEFAULT = "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"

START_TIMEOUT = 5.0
STOP_GRACE = 2.0


def broker_kind():
    """("mosquitto", path) or ("moted", path)."""
    choice = os.environ.get("MOTE_TEST_BROKER", "mosquitto")
    if choice == "mosquitto":
        for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
            if os.path.exists(path):
                return "mosquitto", path
        return "mosquitto", "mosquitto"
    return ("mosquitto" if os.path.basename(choice) == "mosquitto" else "moted"), choice


def is_mosquitto():
    return broker_kind()[0] == "mosquitto"


def known_mosquitto_difference(why):
    """Mark a test that checks what the spec (or a careful broker) does, where mosquitto 2.0.11
    does otherwise. Against mosquitto the runner expects it to fail and says so; against moted
    it is an ordinary test."""
    def mark(fn):
        fn.known_mosquitto_difference = why
        return fn
    return mark


def free_port():
    """A port nobody listens on right now (bind port 0 on 127.0.0.1 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # If the test process dies (even by SIGKILL), the broker gets SIGKILL too.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Broker:
    """with Broker(DEFAULT + "max_inflight_messages 2\\n") as b: s = b.client("id") ...

    The broker's output goes to a log file (b.log_path); on failure the runner prints its tail.
    Sockets made with b.sock()/b.client() are closed when the block ends, then the broker is
    stopped: SIGTERM, and SIGKILL after 2 s."""

    def __init__(self, config=DEFAULT, port=None):
        self.template = config
        self.fixed_port = port
        self.port = None
        self.proc = None
        self.socks = []
        self.dir = tempfile.mkdtemp(prefix="mote-broker-test-")
        self.log_path = os.path.join(self.dir, "broker.log")
        self.conf_path = os.path.join(self.dir, "broker.conf")
        self.kind, self.path = broker_kind()

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        problem = self.stop()
        if problem and exc_type is None:
            raise AssertionError(problem)
        return False

    def start(self):
        # A port found free can be taken before the broker binds it: retry a few times.
        for _ in range(3):
            self.port = self.fixed_port or free_port()
            text = self.template.format(port=self.port, dir=self.dir)
            # The whole suite with the store on, except tests that place a store themselves.
            if os.environ.get("MOTE_TEST_PERSIST") == "1" and "persistence_location" not in text:
                text = text.replace("persistence false\n",
                                    "persistence true\npersistence_location %s/\n" % self.dir)
            _check_loopback_only(text)
            with open(self.conf_path, "w") as f:
                f.write(text)
            log = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen([self.path, "-c", self.conf_path], stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             preexec_fn=_die_with_parent)
            finally:
                log.close()
            _register(self)
            if self._wait_ready():
                return
            self.stop()
            if self.fixed_port or "in use" not in self.log_tail():
                break
        raise AssertionError("broker %s did not start on 127.0.0.1:%s\n%s" % (
            self.path, self.port, self.log_tail()))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []
        problem = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                problem = "broker did not stop within %s s of SIGTERM" % STOP_GRACE
        _unregister(self)
        # moted is built with ASan/UBSan in the test build: a report in its log fails the test,
        # and so does a non-zero exit after SIGTERM (LeakSanitizer exits non-zero on a leak).
        if self.kind == "moted" and self.proc is not None and problem is None:
            tail = self.log_tail(60)
            if any(k in tail for k in ("Sanitizer", "runtime error:")):
                problem = "sanitizer report in the broker log:\n" + tail
            elif self.proc.returncode not in (0, None):
                problem = "broker exited with status %s\n%s" % (self.proc.returncode, tail)
        return problem

    def restart(self, kill=False):
        """Stops the broker (SIGKILL when kill, else SIGTERM) and starts it again on the same
        port with the same folder, so a store in {dir} is read again. Open sockets are closed."""
        if kill:
            for s in self.socks:
                s.close()
            self.socks = []
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
            _unregister(self)
        else:
            problem = self.stop()
            if problem:
                raise AssertionError(problem)
        fixed = self.fixed_port
        self.fixed_port = self.port
        try:
            self.start()
        finally:
            self.fixed_port = fixed

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(data[-lines:])

    # -- clients --------------------------------------------------------------------------------

    def sock(self, timeout=m.DEFAULT_TIMEOUT):
        """A new TCP connection to the broker (closed at the end of the test)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socks.append(s)
        return s

    def client(self, client_id, proto=m.V311, session_present=False, **connect_kw):
        """Connect with a valid CONNECT and check for a successful CONNACK; returns the socket.
        The 5.0 CONNACK properties are kept in self.last_connack_props."""
        s = self.sock()
        s.sendall(m.connect(client_id, proto=proto, **connect_kw))
        self.last_connack_props = m.expect_connack(s, 0, session_present, proto)
        return s

    def subscriber(self, client_id, filters, proto=m.V311, mid=1, sub_props=None, **connect_kw):
        """client() then SUBSCRIBE to filters [(filter, options)] and check that the SUBACK
        grants each requested QoS (options & 3)."""
        s = self.client(client_id, proto=proto, **connect_kw)
        s.sendall(m.subscribe(mid, filters, proto=proto, props=sub_props))
        m.expect_packet(s, m.suback(mid, [o & 3 for _, o in filters], proto=proto), "SUBACK")
        return s


def _check_loopback_only(text):
    """Tests must never listen beyond 127.0.0.1: every listener names it, no bare `port`."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in ("port", "bind_address", "bind_interface"):
            raise AssertionError("config key %r not allowed in tests: use `listener PORT 127.0.0.1`" % words[0])
        if words and words[0] == "listener" and (len(words) < 3 or words[2] != "127.0.0.1"):
            raise AssertionError("listener without 127.0.0.1 in test config: %r" % line)


_live = set()


def _register(b):
    _live.add(b)


def _unregister(b):
    _live.discard(b)


def stop_all():
    """Stop every broker still running in this process (the runner calls it after each test)."""
    for b in list(_live):
        b.stop()
