#!/usr/bin/python3
"""Interop with Mosquitto's command-line clients (Debian's mosquitto-clients 2.0.11):
mosquitto_pub and mosquitto_sub talking MQTT 3.1.1 and 5.0 to the broker under test.

    clients_test.py [-k NAME] [-j JOBS]     (BROKER=mosquitto to check the tests themselves)

A subscriber runs with -d under `stdbuf -oL`, so the test sees its SUBACK before publishing, and
prints each message as one tab-separated line (FORMAT). Absence is checked with a marker message
published last, and a short grace period after it. Only messages from one publisher are compared
in order: MQTT orders messages per publisher, not across them.
"""

import os
import subprocess
import time

import interop
from interop import case

V311, V5 = "mqttv311", "mqttv5"
FIELDS = ["topic", "qos", "retain", "props", "content_type", "response_topic", "correlation",
          "format", "expiry", "sub_id", "payload"]
FORMAT = "MSG\t%t\t%q\t%r\t%P\t%C\t%R\t%D\t%F\t%E\t%S\t%p"
WAIT = 5.0  # seconds for anything that should happen at once
GRACE = 0.3  # seconds to wait after a marker for messages that must not come


def _spawn(ctx, args, stdin=subprocess.DEVNULL):
    proc = subprocess.Popen(["stdbuf", "-oL"] + args, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=interop.die_with_parent)

    def kill():
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    ctx.on_exit(kill)
    return proc


class Sub:
    """A running mosquitto_sub. By default waits for its SUBACK and checks the granted QoS."""

    def __init__(self, ctx, version, topics, qos=0, args=(), wait=True):
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(ctx.port), "-V", version, "-d",
               "-F", FORMAT, "-q", str(qos)]
        for t in topics:
            cmd += ["-t", t]
        self.proc = _spawn(ctx, cmd + list(args))
        self.out = interop.LineReader(self.proc.stdout)
        self.msgs = []
        self.ended = False
        if wait:
            line = self._until(lambda l: l.startswith("Subscribed (mid:"), "its SUBACK")
            granted = [int(x) for x in line.split(":", 2)[2].replace(" ", "").split(",")]
            assert granted == [qos] * len(topics), "SUBACK granted %s, asked %s" % (granted, [qos] * len(topics))

    def _until(self, pred, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.out.next(deadline)
            except TimeoutError:
                raise AssertionError("mosquitto_sub: no %s within %.1fs (%d messages); output: %s"
                                     % (what, timeout, len(self.msgs), self._tail()))
            if line is None:
                self.ended = True
                raise AssertionError("mosquitto_sub exited (status %s) before %s; output: %s"
                                     % (self.proc.wait(5), what, self._tail()))
            self._take(line)
            if pred(line):
                return line

    def _take(self, line):
        if line.startswith("MSG\t"):
            self.msgs.append(dict(zip(FIELDS, line.split("\t", len(FIELDS))[1:])))

    def _tail(self):
        return " | ".join(self.out.lines[-8:]) or "(none)"

    def messages(self, n, timeout=WAIT):
        """Wait until n messages in all have arrived; returns all so far."""
        if len(self.msgs) < n:
            self._until(lambda l: len(self.msgs) >= n, "%d messages" % n, timeout)
        return self.msgs

    def settled(self, n, timeout=WAIT):
        """messages(n), then GRACE more seconds for any that should not come: a marker from
        another connection proves little on a broker with one thread per core."""
        self.messages(n, timeout)
        deadline = time.monotonic() + GRACE
        try:
            while (line := self.out.next(deadline)) is not None:
                self._take(line)
        except TimeoutError:
            pass
        return self.msgs

    def finish(self, timeout=WAIT):
        """Wait for it to exit by itself (-C, -W, -E); returns its exit status."""
        if not self.ended:
            deadline = time.monotonic() + timeout
            try:
                while (line := self.out.next(deadline)) is not None:
                    self._take(line)
            except TimeoutError:
                raise AssertionError("mosquitto_sub did not exit within %.1fs; output: %s"
                                     % (timeout, self._tail()))
            self.ended = True
        return self.proc.wait(5)


def pub(ctx, version, topic, message=None, qos=0, args=()):
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(ctx.port), "-V", version,
           "-t", topic, "-q", str(qos)]
    cmd += ["-n"] if message is None else ["-m", message]
    r = subprocess.run(cmd + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10, preexec_fn=interop.die_with_parent)
    assert r.returncode == 0, "mosquitto_pub %s failed (status %d): %s" % (
        " ".join(cmd[5:]), r.returncode, r.stdout.decode(errors="replace").strip())


def pairs(msgs, *keys):
    keys = keys or ("topic", "payload")
    return [tuple(m[k] for k in keys) for m in msgs]


def expect(got, want, what="messages"):
    assert got == want, "%s: got %s, want %s" % (what, got, want)


def both(name, config="", mosquitto_differs=None):
    """Register fn(ctx, version) twice: NAME_v311 and NAME_v5."""
    def add(fn):
        case(name + "_v311", config, mosquitto_differs)(lambda ctx: fn(ctx, V311))
        case(name + "_v5", config, mosquitto_differs)(lambda ctx: fn(ctx, V5))
        return fn
    return add


# -- the tests ------------------------------------------------------------------------------

def _roundtrip(ctx, version, qos):
    s = Sub(ctx, version, ["q/%d" % qos], qos=qos, args=["-C", "1", "-W", "5"])
    pub(ctx, version, "q/%d" % qos, "hello qos %d" % qos, qos=qos)
    expect(pairs(s.messages(1), "topic", "qos", "retain", "payload"),
           [("q/%d" % qos, str(qos), "0", "hello qos %d" % qos)])
    assert s.finish() == 0


both("qos0")(lambda ctx, v: _roundtrip(ctx, v, 0))
both("qos1")(lambda ctx, v: _roundtrip(ctx, v, 1))
both("qos2")(lambda ctx, v: _roundtrip(ctx, v, 2))


@both("qos_downgrade")
def _(ctx, v):
    # A QoS 2 publish to a QoS 1 subscription arrives at QoS 1, and a QoS 0 one at QoS 0.
    s = Sub(ctx, v, ["dg/#"], qos=1)
    pub(ctx, v, "dg/a", "two", qos=2)
    pub(ctx, v, "dg/b", "zero", qos=0)
    expect(sorted(pairs(s.settled(2), "topic", "qos")), [("dg/a", "1"), ("dg/b", "0")])


@both("retained")
def _(ctx, v):
    pub(ctx, v, "r/t", "kept", qos=1, args=["-r"])
    s = Sub(ctx, v, ["r/#"], qos=1, wait=False)
    expect(pairs(s.messages(1), "topic", "retain", "payload"), [("r/t", "1", "kept")],
           "retained message on subscribe")
    # A retained publish to a subscription that already exists arrives with retain 0.
    pub(ctx, v, "r/t", "newer", qos=1, args=["-r"])
    expect(pairs(s.messages(2)[1:], "topic", "retain", "payload"), [("r/t", "0", "newer")],
           "live retained publish")
    # An empty retained message clears it (and is itself delivered to live subscribers).
    pub(ctx, v, "r/t", None, qos=1, args=["-r"])
    s.messages(3)
    s2 = Sub(ctx, v, ["r/#"], qos=1)
    pub(ctx, v, "r/end", "marker", qos=1)
    expect(pairs(s2.settled(1), "topic", "retain", "payload"), [("r/end", "0", "marker")],
           "after clearing the retained message")


@both("retained_replace_many")
def _(ctx, v):
    # The last retained message per topic is kept; several topics under one filter all come back.
    for i in range(3):
        pub(ctx, v, "rm/a", "a%d" % i, args=["-r"])
    pub(ctx, v, "rm/b/c", "bc", qos=2, args=["-r"])
    pub(ctx, v, "rm/b/d", "plain")
    s = Sub(ctx, v, ["rm/#"], qos=2)
    pub(ctx, v, "rm/end", "marker", qos=2)
    # Order between QoS levels is not promised: compare as a set, the marker being last in QoS 2.
    got = sorted(pairs(s.settled(3), "topic", "retain", "payload"))
    expect(got, [("rm/a", "1", "a2"), ("rm/b/c", "1", "bc"), ("rm/end", "0", "marker")],
           "retained messages and the marker")


@both("wildcards")
def _(ctx, v):
    s = Sub(ctx, v, ["a/+/c", "x/#", "+/q"], qos=1)
    for t in ["a/b/c", "a/b/d", "a/c", "a/b/c/d", "x", "x/y/z", "b/q", "b/q/r", "/q", "X/y"]:
        pub(ctx, v, t, t, qos=1)
    pub(ctx, v, "x/end", "marker", qos=1)
    expect(sorted(m["topic"] for m in s.settled(6)), sorted(["a/b/c", "x", "x/y/z", "b/q", "/q", "x/end"]))


@both("wildcards_dollar")
def _(ctx, v):
    # Topics starting with $ match no filter that starts with a wildcard.
    s = Sub(ctx, v, ["#", "+/d"], qos=0)
    pub(ctx, v, "$mote/d", "hidden")
    pub(ctx, v, "mark", "marker")  # matches "#" only: overlapping matches may give two copies
    expect(pairs(s.settled(1)), [("mark", "marker")])


@both("persistent_session")
def _(ctx, v):
    cid = "ps-" + v
    first = Sub(ctx, v, ["ps/#"], qos=1, args=["-c", "-i", cid, "-E"])
    assert first.finish() == 0
    for i in range(3):
        pub(ctx, v, "ps/%d" % i, "queued %d" % i, qos=1)
    pub(ctx, v, "ps/q2", "queued q2", qos=2)
    again = Sub(ctx, v, ["ps/#"], qos=1, args=["-c", "-i", cid, "-C", "4", "-W", "5"], wait=False)
    assert again.finish() == 0, "reconnected session did not get 4 messages: %s" % pairs(again.msgs)
    expect(sorted(pairs(again.msgs, "topic", "qos", "payload")),
           [("ps/0", "1", "queued 0"), ("ps/1", "1", "queued 1"), ("ps/2", "1", "queued 2"),
            ("ps/q2", "1", "queued q2")], "messages queued while offline")


@both("clean_session_drops_queue")
def _(ctx, v):
    cid = "cs-" + v
    assert Sub(ctx, v, ["cs/#"], qos=1, args=["-c", "-i", cid, "-E"]).finish() == 0
    pub(ctx, v, "cs/lost", "lost", qos=1)
    s = Sub(ctx, v, ["cs/#"], qos=1, args=["-i", cid])  # clean session / clean start
    pub(ctx, v, "cs/end", "marker", qos=1)
    expect(pairs(s.settled(1)), [("cs/end", "marker")])


def _will_publisher(ctx, v, args):
    """mosquitto_pub -l kept connected (stdin open), returned once its CONNACK is in."""
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(ctx.port), "-V", v, "-d", "-l",
           "-t", "will/unused", "-i", "willer-" + v] + args
    p = _spawn(ctx, cmd, stdin=subprocess.PIPE)
    out = interop.LineReader(p.stdout)
    deadline = time.monotonic() + WAIT
    while True:
        try:
            line = out.next(deadline)
        except TimeoutError:
            line = None
        assert line is not None, "mosquitto_pub -l did not connect: %s" % " | ".join(out.lines)
        if "received CONNACK (0)" in line:
            return p


@both("will_on_kill")
def _(ctx, v):
    extra = ["-D", "will", "user-property", "why", "killed", "-D", "will", "content-type", "text/x"] if v == V5 else []
    s = Sub(ctx, v, ["will/#"], qos=1)
    p = _will_publisher(ctx, v, ["--will-topic", "will/t", "--will-payload", "gone", "--will-qos", "1",
                                 "--will-retain"] + extra)
    p.kill()
    p.wait(5)
    m = s.messages(1)
    expect(pairs(m, "topic", "qos", "payload"), [("will/t", "1", "gone")], "will after SIGKILL")
    if v == V5:
        expect(pairs(m, "props", "content_type"), [("why:killed", "text/x")], "will properties")
    # --will-retain: a later subscriber gets it as a retained message.
    late = Sub(ctx, v, ["will/t"], qos=1, wait=False)
    expect(pairs(late.messages(1), "topic", "retain", "payload"), [("will/t", "1", "gone")],
           "retained will")


@both("will_not_sent_on_disconnect")
def _(ctx, v):
    s = Sub(ctx, v, ["will/#"], qos=1)
    p = _will_publisher(ctx, v, ["--will-topic", "will/t", "--will-payload", "gone"])
    p.stdin.write(b"line one\n")
    p.stdin.close()  # end of input: mosquitto_pub sends DISCONNECT and exits
    assert p.wait(WAIT) == 0
    pub(ctx, v, "will/end", "marker", qos=1)
    expect(sorted(pairs(s.settled(2))), [("will/end", "marker"), ("will/unused", "line one")])


@case("user_properties_v5")
def _(ctx):
    s = Sub(ctx, V5, ["up/#"], qos=1)
    pub(ctx, V5, "up/t", "with props", qos=1, args=[
        "-D", "publish", "user-property", "k", "v",
        "-D", "publish", "user-property", "k2", "v 2",
        "-D", "publish", "user-property", "k", "again",
        "-D", "publish", "content-type", "application/json",
        "-D", "publish", "response-topic", "up/reply",
        "-D", "publish", "correlation-data", "corr-42",
        "-D", "publish", "payload-format-indicator", "1"])
    m = s.messages(1)
    expect(pairs(m, "payload", "props", "content_type", "response_topic", "correlation", "format"),
           [("with props", "k:v k2:v 2 k:again", "application/json", "up/reply", "corr-42", "1")],
           "v5 properties (user properties in order, duplicates kept)")


@case("cross_version")
def _(ctx):
    # 5.0 properties do not reach a 3.1.1 subscriber, and a 3.1.1 publish reaches a 5.0 one.
    old = Sub(ctx, V311, ["xv/#"], qos=1)
    new = Sub(ctx, V5, ["xv/#"], qos=1)
    pub(ctx, V5, "xv/a", "from v5", qos=1, args=["-D", "publish", "user-property", "k", "v"])
    pub(ctx, V311, "xv/b", "from v311", qos=1)
    expect(sorted(pairs(old.settled(2), "topic", "payload", "props")),
           [("xv/a", "from v5", ""), ("xv/b", "from v311", "")])
    expect(sorted(pairs(new.settled(2), "topic", "payload", "props")),
           [("xv/a", "from v5", "k:v"), ("xv/b", "from v311", "")])


@case("subscription_identifier_v5")
def _(ctx):
    s = Sub(ctx, V5, ["sid/#"], qos=0, args=["-D", "subscribe", "subscription-identifier", "77"])
    pub(ctx, V5, "sid/x", "x")
    expect(pairs(s.messages(1), "topic", "sub_id"), [("sid/x", "77")])


@case("message_expiry_retained_v5")
def _(ctx):
    pub(ctx, V5, "exp/short", "short", args=["-r", "-D", "publish", "message-expiry-interval", "1"])
    pub(ctx, V5, "exp/long", "long", args=["-r", "-D", "publish", "message-expiry-interval", "60"])
    time.sleep(2.2)
    s = Sub(ctx, V5, ["exp/#"], qos=1)
    pub(ctx, V5, "exp/end", "marker")
    m = s.settled(2)
    expect(pairs(m, "topic", "retain"), [("exp/long", "1"), ("exp/end", "0")],
           "retained messages after 2.2 s (expiry 1 s and 60 s)")
    assert 50 <= int(m[0]["expiry"]) <= 58, "expiry interval forwarded as %r, want 60 less the 2+ s waited" % m[0]["expiry"]


@case("message_expiry_queued_v5")
def _(ctx):
    assert Sub(ctx, V5, ["eq/#"], qos=1, args=["-c", "-i", "eq", "-E"]).finish() == 0
    pub(ctx, V5, "eq/1", "expires", qos=1, args=["-D", "publish", "message-expiry-interval", "1"])
    pub(ctx, V5, "eq/2", "forever", qos=1)
    pub(ctx, V5, "eq/3", "later", qos=1, args=["-D", "publish", "message-expiry-interval", "60"])
    time.sleep(2.2)
    s = Sub(ctx, V5, ["eq/#"], qos=1, args=["-c", "-i", "eq"])
    pub(ctx, V5, "eq/end", "marker", qos=1)
    m = sorted(s.settled(3), key=lambda x: x["topic"])
    expect(pairs(m, "topic", "expiry"), [("eq/2", ""), ("eq/3", m[1]["expiry"]), ("eq/end", "")],
           "queued messages after 2.2 s offline")
    assert m[1]["expiry"] and 50 <= int(m[1]["expiry"]) <= 58, \
        "queued expiry interval forwarded as %r, want 60 less the 2+ s waited" % m[1]["expiry"]


@both("bounded_runs")
def _(ctx, v):
    # -C: exits with status 0 after exactly that many messages.
    s = Sub(ctx, v, ["b/#"], qos=1, args=["-C", "2", "-W", "10"])
    for i in range(3):
        pub(ctx, v, "b/%d" % i, str(i), qos=1)
    assert s.finish() == 0
    assert len(s.msgs) == 2 and set(pairs(s.msgs)) < {("b/0", "0"), ("b/1", "1"), ("b/2", "2")}, \
        "-C 2: %s" % pairs(s.msgs)
    # -W: gives up after that many seconds when nothing comes.
    t0 = time.monotonic()
    idle = Sub(ctx, v, ["nothing/here"], args=["-W", "1"])
    rc = idle.finish(timeout=4)
    assert rc != 0 and not idle.msgs and time.monotonic() - t0 < 4, \
        "-W 1: status %d, %d messages, %.1fs" % (rc, len(idle.msgs), time.monotonic() - t0)


@both("stream_in_order")
def _(ctx, v):
    # 300 QoS 1 messages from one mosquitto_pub -l arrive complete and in order.
    n = 300
    s = Sub(ctx, v, ["st/t"], qos=1, args=["-C", str(n), "-W", "20"])
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(ctx.port), "-V", v, "-t", "st/t", "-q", "1", "-l"]
    r = subprocess.run(cmd, input=b"".join(b"m%d\n" % i for i in range(n)), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20, preexec_fn=interop.die_with_parent)
    assert r.returncode == 0, "mosquitto_pub -l: %s" % r.stdout.decode(errors="replace")
    assert s.finish(timeout=20) == 0
    got = [m["payload"] for m in s.msgs]
    want = ["m%d" % i for i in range(n)]
    assert got == want, "got %d messages, first difference at %s" % (
        len(got), next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), n)))


@both("large_payload", config="max_packet_size 1000000\n")
def _(ctx, v):
    body = ("0123456789abcdef" * 16384)[:200000]  # 200 kB, no newline
    path = os.path.join(ctx.broker.dir, "payload.txt")
    with open(path, "w") as f:
        f.write(body)
    s = Sub(ctx, v, ["big"], qos=2, args=["-C", "1", "-W", "10"])
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(ctx.port), "-V", v, "-t", "big",
                        "-q", "2", "-f", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=10, preexec_fn=interop.die_with_parent)
    assert r.returncode == 0, "mosquitto_pub -f: %s" % r.stdout.decode(errors="replace")
    assert s.finish(timeout=10) == 0
    assert len(s.msgs) == 1 and s.msgs[0]["payload"] == body, "200 kB payload did not arrive intact"


@case("qos1_v31")
def _(ctx):
    # MQTT 3.1 (protocol name MQIsdp) still works.
    _roundtrip(ctx, "mqttv31", 1)


@both("utf8_topics_and_empty_payload")
def _(ctx, v):
    topic = "\u00fcn\u00ef/\u00e7\u00f8d\u00e9/\U0001F600"
    s = Sub(ctx, v, [topic, "\u00fcn\u00ef/x/#"], qos=1)
    pub(ctx, v, topic, "h\u00e9llo w\u00f6rld", qos=1)
    pub(ctx, v, "\u00fcn\u00ef/x/empty", None, qos=1)  # -n: zero-length, not retained
    expect(sorted(pairs(s.settled(2))), sorted([(topic, "h\u00e9llo w\u00f6rld"), ("\u00fcn\u00ef/x/empty", "")]))


if __name__ == "__main__":
    interop.main("cli")
