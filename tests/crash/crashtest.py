#!/usr/bin/python3
"""tests/crash/crashtest.py - does a broker keep what it acknowledged when killed with SIGKILL?

    crashtest.py [--broker moted|mosquitto|both] [--moted PATH] [--mosquitto PATH] [--rounds R]
                 [--seed N] [--publishers P] [--subscribers S] [--window W] [--keep]

P publishers send numbered messages, alternately QoS 1 and QoS 2, to S persistent subscribers
(clean session 0, fixed client ids, each subscribed to crash/<s>/# with QoS 2). Each round runs
traffic for a random 0.3-2.0 s (one round in five: 0.01-0.3 s, so that the kill lands among the
resends that follow a restart), kills the broker with SIGKILL, restarts it on the same port with
the same store (persistence true, persistence_location in one temp dir for the whole run), and
the clients reconnect and carry on, as MQTT 3.1.1 clients that resume their sessions. During each
stretch of traffic every subscriber goes offline (DISCONNECT, session kept) with probability 1/2
for 0.2-1.5 s, so the broker holds queued messages, sometimes across the kill. After R rounds,
traffic runs once more, publishing stops, everything drains and the broker is stopped cleanly.
Both brokers get the same seed, so the same durations and offline plan.

Addressing: message seq n (1, 2, 3, ...) of publisher p is QoS 1 when n is odd and QoS 2 when
it is even, goes to subscriber s = ((n - 1) // 2 + p) % S on topic crash/<s>/p<p>, with payload
"pub=<p> seq=<n> qos=<q>". So every subscriber receives both QoS from every publisher, and every
message is addressed to exactly one subscriber.

Acknowledged = its PUBACK (QoS 1) or PUBREC (QoS 2) reached the publisher. Lost = acknowledged
and never delivered to its subscriber. A QoS 2 message delivered more than once is a duplicate.
The client side is a small MQTT 3.1.1 client on raw sockets (tests/broker/mqtt_bytes.py builds
the packets), so that exactly these rules hold: a message not yet acknowledged at a kill is resent
after reconnect with DUP and the same packet id; a QoS 2 message whose PUBREC arrived is
continued with PUBREL; a subscriber delivers a QoS 2 message once per packet id until PUBREL
(MQTT 3.1.1 section 4.3.3) and keeps those packet ids across broker restarts; both discard that
session state when CONNACK says the broker has no session [MQTT-3.2.2-4], and a subscriber then
subscribes again (publishers reconnect after subscribers, so nothing is published to a broker
that lost a subscription before it is made again).

moted fails the test (exit status 1) on any loss, any QoS 2 duplicate, any protocol anomaly, a
sanitizer report, or a broker that does not come back after a kill. mosquitto's losses are
expected (it writes its store every autosave_interval, 1800 s by default, and at a clean stop)
and only reported; a mosquitto that does not come back still fails. Everything listens on
127.0.0.1 only, every wait is bounded. The last line reads
    crashtest: moted lost X of N acknowledged; mosquitto lost Y of M acknowledged
"""

import argparse
import os
import pwd
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "broker"))
import mqtt_bytes as m  # noqa: E402
from broker import _die_with_parent, free_port  # noqa: E402 (tests/broker/broker.py)

RUN_MIN, RUN_MAX = 0.3, 2.0     # seconds of traffic before each kill
SHORT_MIN, SHORT_ODDS = 0.01, 0.2  # one round in five is shorter: the kill lands among the resends
START_TIMEOUT = 10.0            # broker start: port accepts connections within this
STOP_TIMEOUT = 10.0             # clean stop: SIGTERM, then SIGKILL after this
PACKET_TIMEOUT = 5.0            # CONNACK, SUBACK
SEND_TIMEOUT = 5.0              # a send that blocks this long counts as a dropped connection
CONNECT_TRIES, CONNECT_SLEEP = 50, 0.1
DRAIN_QUIET, DRAIN_QUIET_DONE, DRAIN_MAX = 3.0, 0.5, 30.0
KEEPALIVE = 120
SHOW = 10                       # missed messages / duplicates listed by name

MOSQUITTO_DEFAULT = "/usr/sbin/mosquitto"


class HarnessFailure(Exception):
    """The run cannot go on: a broker that does not (re)start, dies by itself, or a client that
    cannot reconnect."""


# ---------------------------------------------------------------------------------------------
# The broker process: same config, same port and same store across SIGKILL and restart.

class BrokerProc:
    def __init__(self, kind, path, workdir):
        self.kind, self.path, self.dir = kind, path, workdir
        self.store = os.path.join(workdir, "store")
        os.mkdir(self.store)
        os.chmod(workdir, 0o755)
        if kind == "mosquitto" and os.geteuid() == 0:
            # mosquitto started as root runs as user mosquitto: its store must be writable by it.
            try:
                pw = pwd.getpwnam("mosquitto")
                os.chown(self.store, pw.pw_uid, pw.pw_gid)
            except KeyError:
                pass
        self.port = free_port()
        self.conf = os.path.join(workdir, "broker.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\n"
                    "allow_anonymous true\n"
                    "persistence true\n"
                    "persistence_location %s/\n"
                    "max_queued_messages 1000000\n"
                    "max_inflight_messages 20\n" % (self.port, self.store))
        os.chmod(self.conf, 0o644)
        self.log = os.path.join(workdir, "broker.log")
        self.proc = None
        self.starts = 0
        self.killing = threading.Event()  # set just before the SIGKILL is sent
        self.kill_time = None
        self.log_offset = 0  # where the log of the current start begins

    def start(self):
        self.starts += 1
        self.killing.clear()
        with open(self.log, "ab") as log:
            log.write(b"==== crashtest: start %d ====\n" % self.starts)
            log.flush()
            self.log_offset = log.tell()
            env = dict(os.environ)
            if self.kind == "moted":
                # The sanitizer build: SIGKILL leaves no leak report anyway, and leaks are
                # broker.blackbox's business. Other sanitizer reports are checked in the log.
                env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
            try:
                self.proc = subprocess.Popen([self.path, "-c", self.conf],
                                             stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, env=env,
                                             preexec_fn=_die_with_parent)
            except OSError as e:
                self.proc = None
                raise HarnessFailure("cannot run %s at start %d: %s" % (self.path, self.starts, e))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessFailure("%s exited with status %s at start %d (port %d)%s\n%s" % (
                    self.kind, self.proc.returncode, self.starts, self.port, self._after_kill(),
                    self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        raise HarnessFailure("%s did not accept connections on 127.0.0.1:%d within %.0f s at "
                             "start %d%s\n%s" % (self.kind, self.port, START_TIMEOUT, self.starts,
                                                 self._after_kill(), self.log_tail()))

    def _after_kill(self):
        return ", after a SIGKILL" if self.starts > 1 else ""

    def check_alive(self):
        if self.proc.poll() is not None and not self.killing.is_set():
            raise HarnessFailure("%s exited by itself with status %s (nobody killed it)\n%s" % (
                self.kind, self.proc.returncode, self.log_tail()))

    def kill_now(self):
        """SIGKILL, from the timer thread while the main thread keeps the traffic going."""
        self.kill_time = time.monotonic()
        self.killing.set()
        self.proc.send_signal(signal.SIGKILL)

    def stop(self):
        """SIGTERM and wait. Returns a problem text or None."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "%s did not stop within %.0f s of SIGTERM\n%s" % (self.kind, STOP_TIMEOUT,
                                                                    self.log_tail())
        if self.kind == "moted" and self.proc.returncode != 0:
            return "moted exited with status %s after SIGTERM\n%s" % (self.proc.returncode,
                                                                      self.log_tail())
        return None

    def sanitizer_report(self):
        text = self.current_log()
        if any(k in text for k in ("Sanitizer", "runtime error:")):
            return "sanitizer report in moted's log (start %d):\n%s" % (self.starts,
                                                                        self.log_tail(60))
        return None

    def current_log(self):
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=30):
        text = self.current_log().splitlines()
        return "---- %s log (%s), start %d, last %d lines ----\n%s" % (
            self.kind, self.log, self.starts, lines, "\n".join(text[-lines:]) or "(empty)")


# ---------------------------------------------------------------------------------------------
# A connection: framing over a blocking socket that is only read when select() says so.

class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=PACKET_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(SEND_TIMEOUT)
        self.buf = bytearray()
        self.dead = False  # the peer is gone (EOF, reset, failed send): drop after reading

    def fileno(self):
        return self.sock.fileno()

    def send(self, data):
        if self.dead:
            return
        try:
            self.sock.sendall(data)
        except OSError:  # EPIPE, ECONNRESET, timeout: the connection is lost
            self.dead = True

    def fill(self):
        """One recv (call when readable). Marks the connection dead at EOF or error."""
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.buf += chunk
        else:
            self.dead = True

    def take(self):
        """The next whole packet in the buffer, or None."""
        length, mult, i = 0, 1, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
            if i > 4:
                raise m.Malformed("Remaining Length longer than 4 bytes")
        if len(self.buf) < i + length:
            return None
        pkt = bytes(self.buf[:i + length])
        del self.buf[:i + length]
        return pkt

    def wait_packet(self, timeout):
        """Block (bounded) until one whole packet is buffered; None on timeout or close."""
        deadline = time.monotonic() + timeout
        while True:
            pkt = self.take()
            if pkt is not None or self.dead:
                return pkt
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                self.fill()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# Clients

class Client:
    def __init__(self, run, cid):
        self.run, self.cid = run, cid
        self.conn = None
        self.resumed = None  # session_present of the last CONNACK
        self.offline_until = 0.0  # a subscriber that went offline on purpose stays so until then

    def connect(self):
        """Connect with clean session 0 (bounded retries); then on_connected(session_present)."""
        last = None
        for _ in range(CONNECT_TRIES):
            self.run.broker.check_alive()
            if self.run.broker.killing.is_set():
                return  # the kill came first: reconnect after the restart
            try:
                conn = Conn(self.run.broker.port)
            except OSError as e:
                last = "connect: %s" % e
                time.sleep(CONNECT_SLEEP)
                continue
            conn.send(m.connect(self.cid, clean=False, keepalive=KEEPALIVE))
            pkt = conn.wait_packet(PACKET_TIMEOUT)
            if pkt is None:
                conn.close()
                if not conn.dead and not self.run.broker.killing.is_set():
                    raise HarnessFailure("%s: no CONNACK within %.0f s\n%s" % (
                        self.cid, PACKET_TIMEOUT, self.run.broker.log_tail()))
                last = "connection closed before CONNACK"
                time.sleep(CONNECT_SLEEP)
                continue
            d = m.parse(pkt)
            if d["type"] != "CONNACK" or d["rc"] != 0:
                conn.close()
                raise HarnessFailure("%s: expected CONNACK rc 0, received %s" % (self.cid, d))
            self.conn = conn
            self.resumed = bool(d["session_present"])
            self.run.connects += 1
            self.run.resumes += self.resumed
            self.on_connected(self.resumed)
            self.process()
            return
        raise HarnessFailure("%s could not reconnect to %s on port %d in %d tries: %s" % (
            self.cid, self.run.broker.kind, self.run.broker.port, CONNECT_TRIES, last))

    def send(self, data):
        self.conn.send(data)

    def process(self):
        """Handle every whole packet buffered."""
        while self.conn is not None:
            pkt = self.conn.take()
            if pkt is None:
                return
            self.handle(m.parse(pkt))

    def readable(self):
        self.conn.fill()
        self.process()

    def drop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def read_to_end(self, timeout=1.0):
        """After a kill: what the broker sent before it died is handled, as a real client would
        read it before it sees the connection close."""
        if self.conn is None:
            return
        deadline = time.monotonic() + timeout
        while not self.conn.dead and time.monotonic() < deadline:
            r, _, _ = select.select([self.conn.sock], [], [], max(0.0, deadline - time.monotonic()))
            if r:
                self.conn.fill()
        self.process()
        self.drop()

    def anomaly(self, text):
        self.run.anomaly("%s: %s" % (self.cid, text))

    def go_offline(self, until):
        """DISCONNECT (the session stays: clean session 0) and stay away until `until`."""
        if self.conn is not None:
            self.send(m.disconnect())
            self.drop()
            self.run.offline_stretches += 1
        self.offline_until = until


class Subscriber(Client):
    def __init__(self, run, index):
        super().__init__(run, "crashtest-sub-%d" % index)
        self.index = index
        self.filter = "crash/%d/#" % index
        self.subscribed = False  # a SUBACK came back since the broker last had no session for us
        # QoS 2 packet id -> (pub, seq, broker start it came from): PUBREC sent, no PUBREL yet
        self.awaiting_rel = {}
        self.delivered = Counter()  # (pub, seq, qos) -> times delivered to the application

    def on_connected(self, session_present):
        if not session_present:
            self.awaiting_rel.clear()  # [MQTT-3.2.2-4]: the broker has no session, neither do we
            self.subscribed = False
        if self.subscribed:
            return
        self.send(m.subscribe(1, [(self.filter, 2)]))
        while True:
            pkt = self.conn.wait_packet(PACKET_TIMEOUT)
            if pkt is None:
                if self.run.broker.killing.is_set():
                    self.conn.dead = True  # killed before the SUBACK: subscribe again after restart
                    return
                raise HarnessFailure("%s: no SUBACK within %.0f s" % (self.cid, PACKET_TIMEOUT))
            d = m.parse(pkt)
            if d["type"] == "SUBACK":
                if d["mid"] != 1 or d["codes"] != [2]:
                    raise HarnessFailure("%s: SUBACK %s, expected packet id 1 granting QoS 2" % (
                        self.cid, d))
                self.subscribed = True
                return
            self.handle(d)

    def handle(self, d):
        t = d["type"]
        if t == "PUBLISH":
            self.on_publish(d)
        elif t == "PUBREL":
            self.awaiting_rel.pop(d["mid"], None)
            self.send(m.pubcomp(d["mid"]))
        elif t != "PINGRESP":
            self.anomaly("unexpected %s" % d)

    def on_publish(self, d):
        self.run.last_delivery = time.monotonic()
        qos, mid = d["qos"], d.get("mid")
        key = self.run.identify(self, d)
        if qos == 1:
            self.send(m.puback(mid))
        elif qos == 2:
            if mid in self.awaiting_rel:
                old = self.awaiting_rel[mid]
                if key is not None and old[:2] != key[:2]:
                    self.anomaly("packet id %d reused for pub %d seq %d by broker start %d, while "
                                 "pub %d seq %d, received from broker start %d, still waits for "
                                 "its PUBREL" % (mid, key[0], key[1], self.run.broker.starts,
                                                 old[0], old[1], old[2]))
                self.send(m.pubrec(mid))
                return  # the same message again: delivered once per packet id
            self.awaiting_rel[mid] = (key[0], key[1], self.run.broker.starts) if key \
                else (-1, -1, 0)
            self.send(m.pubrec(mid))
        if key is not None:
            self.delivered[key] += 1


class Publisher(Client):
    def __init__(self, run, index):
        super().__init__(run, "crashtest-pub-%d" % index)
        self.index = index
        self.next_seq = 1
        self.next_mid = 1
        self.inflight = {}  # packet id -> [seq, qos, packet bytes, state "sent" | "rel"]

    def on_connected(self, session_present):
        if not session_present:
            # [MQTT-3.2.2-4]: discard the session state. A QoS 2 message whose PUBREC arrived is
            # the broker's already (acknowledged); one not acknowledged is published again.
            for mid in [k for k, v in self.inflight.items() if v[3] == "rel"]:
                del self.inflight[mid]
        for mid, msg in sorted(self.inflight.items(), key=lambda kv: kv[1][0]):
            if msg[3] == "rel":
                self.send(m.pubrel(mid))
            else:
                self.send(msg[2])
                self.run.resent += 1

    def pump(self):
        while self.conn is not None and not self.conn.dead and self.run.publishing \
                and len(self.inflight) < self.run.window:
            seq = self.next_seq
            self.next_seq += 1
            qos = 1 if seq % 2 else 2
            sub = ((seq - 1) // 2 + self.index) % self.run.nsubs
            mid = self.new_mid()
            payload = "pub=%d seq=%d qos=%d" % (self.index, seq, qos)
            topic = "crash/%d/p%d" % (sub, self.index)
            self.run.sent[(self.index, seq)] = (qos, sub)
            resend = m.publish(topic, payload, qos=qos, mid=mid, dup=True)
            self.inflight[mid] = [seq, qos, resend, "sent"]
            self.send(m.publish(topic, payload, qos=qos, mid=mid))

    def new_mid(self):
        while self.next_mid in self.inflight:
            self.next_mid = self.next_mid % 65535 + 1
        mid = self.next_mid
        self.next_mid = self.next_mid % 65535 + 1
        return mid

    def handle(self, d):
        t, mid = d["type"], d.get("mid")
        msg = self.inflight.get(mid)
        if t == "PUBACK":
            if msg is None or msg[1] != 1:
                self.run.stray_acks += 1
                return
            self.run.acknowledged(self.index, msg[0])
            del self.inflight[mid]
        elif t == "PUBREC":
            if msg is None or msg[1] != 2:
                self.run.stray_acks += 1
                self.send(m.pubrel(mid))  # the broker waits for it; MQTT 3.1.1 4.3.3
                return
            if msg[3] == "sent":
                self.run.acknowledged(self.index, msg[0])
                msg[3] = "rel"
            self.send(m.pubrel(mid))
        elif t == "PUBCOMP":
            if msg is None or msg[3] != "rel":
                self.run.stray_acks += 1
                return
            del self.inflight[mid]
        elif t != "PINGRESP":
            self.anomaly("unexpected %s" % d)


# ---------------------------------------------------------------------------------------------
# One run against one broker

class Run:
    def __init__(self, kind, path, args, workdir):
        self.kind = kind
        self.broker = BrokerProc(kind, path, workdir)
        self.rng = random.Random(args.seed)
        self.rounds = args.rounds
        self.window = args.window
        self.nsubs = args.subscribers
        self.subs = [Subscriber(self, i) for i in range(args.subscribers)]
        self.pubs = [Publisher(self, i) for i in range(args.publishers)]
        self.publishing = True
        self.sent = {}     # (pub, seq) -> (qos, sub)
        self.acked = {}    # (pub, seq) -> (round, time acknowledged)
        self.round = 0
        self.kill_times = {}  # round -> time of its SIGKILL
        self.anomalies = []
        self.stray_acks = 0
        self.resent = 0
        self.last_delivery = time.monotonic()
        self.plan = []            # (time, subscriber, seconds): planned offline stretches
        self.offline_at_kill = 0
        self.offline_stretches = 0  # subscribers that went offline on purpose
        self.connects = self.resumes = 0  # CONNACKs, and those with session present

    # -- bookkeeping ------------------------------------------------------------------------------

    def anomaly(self, text):
        self.anomalies.append(text)

    def acknowledged(self, pub, seq):
        self.acked.setdefault((pub, seq), (self.round, time.monotonic()))

    def identify(self, sub, d):
        """(pub, seq, qos) of a delivered PUBLISH, checked against what was sent; None if it is
        not one of ours (an anomaly)."""
        try:
            fields = dict(kv.split("=", 1) for kv in d["payload"].decode().split())
            key = (int(fields["pub"]), int(fields["seq"]), int(fields["qos"]))
        except (ValueError, KeyError, UnicodeDecodeError):
            sub.anomaly("PUBLISH with a payload not sent by this test: %r" % d["payload"][:80])
            return None
        want = self.sent.get(key[:2])
        if want is None:
            sub.anomaly("pub %d seq %d delivered but never sent" % key[:2])
            return None
        qos, to = want
        if to != sub.index or d["topic"] != "crash/%d/p%d" % (to, key[0]):
            sub.anomaly("pub %d seq %d for subscriber %d delivered on %s" % (
                key[:2] + (to, d["topic"])))
        if d["qos"] != qos or key[2] != qos:
            sub.anomaly("pub %d seq %d sent with QoS %d delivered with QoS %d" % (
                key[:2] + (qos, d["qos"])))
        return (key[0], key[1], qos)

    def delivered_count(self):
        return sum(len(s.delivered) for s in self.subs)

    def clients(self):
        return self.subs + self.pubs  # subscribers first: subscribed before anything is published

    # -- phases ---------------------------------------------------------------------------------

    def connect_all(self):
        for c in self.clients():
            c.offline_until = 0.0
            if c.conn is None:
                c.connect()

    def plan_offline(self, seconds):
        """Persistent sessions at work: each subscriber, with probability 1/2, goes offline at a
        random point of this stretch of traffic for 0.2-1.5 s, so that the broker queues its
        messages; when that lasts past the SIGKILL, the queue must survive it. Drawn from the
        seeded generator, so both brokers get the same plan."""
        now = time.monotonic()
        plan = []
        for s in self.subs:
            go, at = self.rng.random(), self.rng.uniform(0, seconds)
            length = self.rng.uniform(0.2, 1.5)
            if go < 0.5:
                plan.append((now + at, s, length))
        self.plan = sorted(plan, key=lambda e: e[0])

    def io(self, until):
        """Traffic (or drain) until the predicate until() holds; every pass is bounded."""
        while not until():
            self.broker.check_alive()
            now = time.monotonic()
            while self.plan and self.plan[0][0] <= now:
                _, s, length = self.plan.pop(0)
                s.go_offline(now + length)
            for c in self.clients():
                if self.broker.killing.is_set():
                    return
                if c.conn is not None and c.conn.dead:
                    c.process()
                    c.drop()
                if c.conn is None and now >= c.offline_until:
                    c.connect()  # back from offline, or dropped while the broker runs
            for p in self.pubs:
                p.pump()
            conns = [c for c in self.clients() if c.conn is not None and not c.conn.dead]
            r, _, _ = select.select([c.conn for c in conns], [], [], 0.02)
            for conn in r:
                next(c for c in conns if c.conn is conn).readable()
            for p in self.pubs:
                p.pump()

    def traffic(self, seconds):
        self.plan_offline(seconds)
        deadline = time.monotonic() + seconds
        self.io(lambda: time.monotonic() >= deadline)

    def traffic_then_kill(self, seconds):
        """Traffic; a timer thread sends SIGKILL after `seconds`, at whatever point the broker and
        the clients are then (the main thread keeps publishing and acknowledging meanwhile). Then
        what the broker sent before it died is read and handled."""
        self.plan_offline(seconds)
        timer = threading.Timer(seconds, self.broker.kill_now)
        timer.start()
        try:
            self.io(self.broker.killing.is_set)
        finally:
            timer.cancel()
            timer.join()
        self.broker.proc.wait()
        self.kill_times[self.round] = self.broker.kill_time
        self.offline_at_kill = sum(1 for s in self.subs if s.conn is None)
        for c in self.clients():
            c.read_to_end()
        problem = self.broker.sanitizer_report() if self.kind == "moted" else None
        if problem:
            raise HarnessFailure(problem)

    def drain(self):
        """Publishing stops; wait until every publisher's window is empty and either every
        acknowledged message was delivered (then DRAIN_QUIET_DONE s more, for late duplicates)
        or nothing was delivered for DRAIN_QUIET s. At most DRAIN_MAX s."""
        self.publishing = False
        self.plan = []
        for c in self.clients():
            c.offline_until = 0.0
        start = time.monotonic()
        self.last_delivery = start

        def done():
            now = time.monotonic()
            if now - start >= DRAIN_MAX:
                return True
            if any(p.inflight for p in self.pubs):
                return False
            quiet = now - self.last_delivery
            if quiet >= DRAIN_QUIET:
                return True
            return quiet >= DRAIN_QUIET_DONE and not self.missing()
        self.io(done)
        return time.monotonic() - start

    def missing(self):
        out = []
        for (pub, seq), (rnd, t) in self.acked.items():
            qos, sub = self.sent[(pub, seq)]
            if not self.subs[sub].delivered[(pub, seq, qos)]:
                out.append((pub, seq, qos, sub, rnd, t))
        return out

    def say(self, text):
        print("  %-9s %s" % (self.kind, text), flush=True)

    def execute(self):
        """The whole run. Returns a Result."""
        res = Result(self.kind)
        try:
            self.broker.start()
            self.connect_all()
            for r in range(1, self.rounds + 1):
                self.round = r
                if self.rng.random() < SHORT_ODDS:
                    run_for = self.rng.uniform(SHORT_MIN, RUN_MIN)
                else:
                    run_for = self.rng.uniform(RUN_MIN, RUN_MAX)
                self.traffic_then_kill(run_for)
                t0 = time.monotonic()
                self.broker.start()
                self.connect_all()
                restart = time.monotonic() - t0
                resumed = sum(1 for c in self.clients() if c.resumed)
                self.say("round %d/%d: SIGKILL after %.2f s (%d subscriber(s) offline), back in "
                         "%.2f s, sessions resumed %d of %d; acked %d, delivered %d" % (
                             r, self.rounds, run_for, self.offline_at_kill, restart, resumed,
                             len(self.clients()), len(self.acked), self.delivered_count()))
            self.round = self.rounds + 1
            run_for = self.rng.uniform(RUN_MIN, RUN_MAX)
            self.traffic(run_for)
            took = self.drain()
            self.say("final: %.2f s of traffic, drained in %.1f s; acked %d, delivered %d; "
                     "subscribers went offline %d time(s); %d connects, %d with session present" % (
                         run_for, took, len(self.acked), self.delivered_count(),
                         self.offline_stretches, self.connects, self.resumes))
            for c in self.clients():
                c.drop()
            problem = self.broker.stop() or (self.broker.sanitizer_report()
                                             if self.kind == "moted" else None)
            if problem:
                raise HarnessFailure(problem)
        except (HarnessFailure, m.Malformed) as e:
            res.failure = str(e) if isinstance(e, HarnessFailure) else "malformed packet: %s" % e
        finally:
            for c in self.clients():
                c.drop()
            if self.broker.proc is not None and self.broker.proc.poll() is None:
                self.broker.proc.kill()
                self.broker.proc.wait()
        res.fill(self)
        return res


class Result:
    def __init__(self, kind):
        self.kind = kind
        self.failure = None

    def fill(self, run):
        self.acked = len(run.acked)
        self.delivered = run.delivered_count()
        self.sent = len(run.sent)
        self.missing = sorted(run.missing())
        self.lost = len(self.missing)
        self.lost_by_qos = Counter(x[2] for x in self.missing)
        dup = Counter()
        self.dup2_list = []
        for s in run.subs:
            for (pub, seq, qos), n in s.delivered.items():
                if n > 1:
                    dup[qos] += 1
                    if qos == 2:
                        self.dup2_list.append((pub, seq, n))
        self.dup1, self.dup2 = dup[1], dup[2]
        self.dup2_list.sort()
        self.unacked_left = sum(len(p.inflight) for p in run.pubs)
        self.anomalies = run.anomalies
        self.stray_acks = run.stray_acks
        self.resent = run.resent
        self.kill_times = run.kill_times
        self.rounds_done = len(run.kill_times)

    def bad(self):
        """Failures that count against moted (a mosquitto run only fails on self.failure)."""
        return self.failure or self.lost or self.dup2 or self.anomalies or self.unacked_left

    def report(self):
        say = lambda text: print("  %-9s %s" % (self.kind, text), flush=True)
        if self.failure:
            say("FAILED after %d kill(s): %s" % (self.rounds_done,
                                                 self.failure.replace("\n", "\n    ")))
            say("run aborted: sent %d, acknowledged %d, delivered %d so far; no loss count" % (
                self.sent, self.acked, self.delivered))
            return
        by = ", ".join("QoS %d: %d" % (q, self.lost_by_qos[q]) for q in (1, 2))
        say("sent %d, acknowledged %d, LOST %d (%s); QoS 2 duplicates %d, QoS 1 duplicates %d; "
            "resent after reconnect %d" % (self.sent, self.acked, self.lost, by, self.dup2,
                                           self.dup1, self.resent))
        for pub, seq, qos, sub, rnd, t in self.missing[:SHOW]:
            when = "acknowledged in round %d" % rnd
            if rnd in self.kill_times and t <= self.kill_times[rnd]:
                when += ", %.0f ms before its SIGKILL" % ((self.kill_times[rnd] - t) * 1000)
            elif rnd in self.kill_times:
                when += ", read after its SIGKILL (sent before the broker died)"
            else:
                when += " (after the last restart)"
            say("  missed: pub %d seq %d qos %d, for subscriber %d, %s" % (pub, seq, qos, sub,
                                                                          when))
        if self.lost > SHOW:
            say("  ... and %d more missed" % (self.lost - SHOW))
        for pub, seq, n in self.dup2_list[:SHOW]:
            say("  QoS 2 duplicate: pub %d seq %d delivered %d times" % (pub, seq, n))
        if self.unacked_left:
            say("%d message(s) still unacknowledged when the drain ended" % self.unacked_left)
        distinct = Counter(self.anomalies)  # in order of first appearance
        for a, n in list(distinct.items())[:SHOW]:
            say("  anomaly: %s%s" % (a, " (%d times)" % n if n > 1 else ""))
        if len(distinct) > SHOW:
            say("  ... and %d more distinct anomalies" % (len(distinct) - SHOW))
        if self.stray_acks:
            say("acks for unknown packet ids (informational): %d" % self.stray_acks)

    def summary(self):
        if self.failure:
            return "%s FAILED (%s)" % (self.kind, self.failure.splitlines()[0])
        return "%s lost %d of %d acknowledged" % (self.kind, self.lost, self.acked)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", choices=("moted", "mosquitto", "both"), default="both")
    ap.add_argument("--moted", default="build/broker/moted", help="default: %(default)s")
    ap.add_argument("--mosquitto", default=MOSQUITTO_DEFAULT, help="default: %(default)s")
    ap.add_argument("--rounds", type=int, default=8,
                    help="SIGKILLs per broker (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=None, help="default: random, printed")
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--subscribers", type=int, default=2)
    ap.add_argument("--window", type=int, default=10, help="messages in flight per publisher")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (store, config, log)")
    args = ap.parse_args()
    if args.rounds < 0 or args.publishers < 1 or args.subscribers < 1 \
            or not 1 <= args.window <= 1000:
        ap.error("need --rounds >= 0, --publishers >= 1, --subscribers >= 1, 1 <= --window <= 1000")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)

    # SIGTERM (a ctest timeout, say) unwinds like an exception: the broker running is killed. Not
    # left to PR_SET_PDEATHSIG alone, which mosquitto loses when it drops to user mosquitto.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    kinds = ["moted", "mosquitto"] if args.broker == "both" else [args.broker]
    paths = {"moted": os.path.abspath(args.moted), "mosquitto": args.mosquitto}
    for k in kinds:
        if not (os.path.isfile(paths[k]) and os.access(paths[k], os.X_OK)):
            print("crashtest: no %s at %s%s" % (k, paths[k], " (make build)" if k == "moted" else
                                                 " (apt-get install mosquitto)"), file=sys.stderr)
            return 2

    print("crashtest: seed %d, %d round(s), %d publisher(s), %d subscriber(s), window %d, SIGKILL "
          "after %.1f-%.1f s of traffic (%.2f-%.1f s in one round of %.0f)" % (
              args.seed, args.rounds, args.publishers, args.subscribers, args.window, RUN_MIN,
              RUN_MAX, SHORT_MIN, RUN_MIN, 1 / SHORT_ODDS), flush=True)
    results = []
    for k in kinds:
        workdir = tempfile.mkdtemp(prefix="mote-crashtest-%s-" % k)
        print("%s: %s, store and log in %s" % (k, paths[k], workdir), flush=True)
        res = Run(k, paths[k], args, workdir).execute()
        res.report()
        results.append(res)
        failed = res.failure or (k == "moted" and res.bad())
        if args.keep or failed:
            print("  %-9s kept %s" % (k, workdir), flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    status = 0
    for res in results:
        if res.failure or (res.kind == "moted" and res.bad()):
            status = 1
    print("crashtest: " + "; ".join(r.summary() for r in results), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
