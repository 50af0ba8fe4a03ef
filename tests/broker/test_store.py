"""Durability (issue 7): what a broker acknowledged survives a restart and a SIGKILL.

With `persistence true` a store in the test's folder is read again by b.restart(). Against
mosquitto the graceful restarts pass (it writes its snapshot at shutdown); after SIGKILL it has
only its last autosave (every 1800 s by default), so the kill tests are marked as mosquitto
differences. The tests that read or damage the store file itself are moted's alone.
"""

import os
import resource
import socket
import sqlite3
import subprocess
import time

from broker import Broker, is_mosquitto, known_mosquitto_difference
from mqtt_bytes import *

STORE = ("listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
         "persistence_location {dir}/\n")
KILLED = "mosquitto keeps state in memory and writes it every autosave_interval (1800 s): a " \
         "SIGKILL loses what it acknowledged since"
MOTED_ONLY = "reads or writes moted's store file (moted.db)"


def _db(b):
    return os.path.join(b.dir, "moted.db")


def _pub_acked(b, cid, topic, payloads, qos=1, proto=V311, retain=False, props_=None):
    """Publish each payload and wait for its PUBACK (or PUBREC, then complete the flow)."""
    p = b.client(cid, proto=proto)
    for i, pl in enumerate(payloads, 1):
        p.sendall(publish(topic, pl, qos=qos, mid=i, retain=retain, proto=proto, props=props_))
        if qos == 1:
            expect_type(p, PUBACK, "PUBACK", proto=proto)
        else:
            expect_type(p, PUBREC, "PUBREC", proto=proto)
            p.sendall(pubrel(i, proto=proto))
            expect_type(p, PUBCOMP, "PUBCOMP", proto=proto)
    p.sendall(disconnect(proto=proto))
    p.close()


def _expect_msg(s, topic, payload, qos, name):
    """A PUBLISH with this topic, payload and QoS, DUP either way: a message sent to the
    subscriber just before its DISCONNECT was processed comes again with DUP after the restart
    (the subscriber's worker may see the publish before the DISCONNECT)."""
    d = expect_type(s, PUBLISH, name)
    assert (d["topic"], d["payload"], d["qos"]) == (topic, payload, qos), (name, d)
    return d


def _persistent_sub(b, cid, topic, qos=1, proto=V311, **kw):
    s = b.subscriber(cid, [(topic, qos)], proto=proto, clean=False, **kw)
    s.sendall(disconnect(proto=proto))
    s.close()


def test_retained_survive_graceful_restart():
    """Retained messages (QoS 0 and 1) are there after SIGTERM and a new start."""
    with Broker(STORE) as b:
        _pub_acked(b, "p", "r/one", [b"v1"], retain=True)
        p = b.client("p0")
        p.sendall(publish("r/zero", b"v0", retain=True))
        p.sendall(pingreq())
        expect_packet(p, pingresp(), "PINGRESP")
        b.restart()
        s = b.subscriber("s", [("r/#", 1)])
        got = {expect_type(s, PUBLISH, "retained")["topic"] for _ in range(2)}
        assert got == {"r/one", "r/zero"}, got


@known_mosquitto_difference(KILLED)
def test_retained_survive_kill():
    """A retained message whose PUBACK the publisher holds is there after SIGKILL."""
    with Broker(STORE) as b:
        _pub_acked(b, "p", "r/k", [b"kept"], retain=True)
        b.restart(kill=True)
        s = b.subscriber("s", [("r/k", 1)])
        expect_publish(s, "r/k", b"kept", qos=1, retain=True)


@known_mosquitto_difference(KILLED)
def test_retained_clear_survives_kill():
    """Clearing a retained message (empty payload) is durable too."""
    with Broker(STORE) as b:
        _pub_acked(b, "p", "r/c", [b"old"], retain=True)
        _pub_acked(b, "p", "r/c", [b""], retain=True)
        b.restart(kill=True)
        s = b.subscriber("s", [("r/c", 1)])
        expect_nothing(s, name="no retained message after clearing and a crash")


@known_mosquitto_difference(KILLED)
def test_queued_qos1_survive_kill_in_order():
    """QoS 1 messages acknowledged to the publisher while the subscriber was offline arrive
    after SIGKILL and restart, in order, and the session is present."""
    with Broker(STORE) as b:
        _persistent_sub(b, "sub", "q/#")
        _pub_acked(b, "pub", "q/a", [b"m%d" % i for i in range(10)])
        b.restart(kill=True)
        s = b.client("sub", clean=False, session_present=True)
        for i in range(10):
            d = _expect_msg(s, "q/a", b"m%d" % i, 1, "message %d" % i)
            s.sendall(puback(d["mid"]))
        expect_nothing(s)


@known_mosquitto_difference(KILLED)
def test_subscription_survives_kill():
    """A persistent session's subscription made before the crash routes messages after it."""
    with Broker(STORE) as b:
        _persistent_sub(b, "sub", "s/+", qos=2)
        b.restart(kill=True)
        _pub_acked(b, "pub", "s/x", [b"after"], qos=2)
        s = b.client("sub", clean=False, session_present=True)
        d = expect_publish(s, "s/x", b"after", qos=2)
        s.sendall(pubrec(d["mid"]))
        expect_packet(s, pubrel(d["mid"]), "PUBREL")
        s.sendall(pubcomp(d["mid"]))


@known_mosquitto_difference(KILLED)
def test_unsubscribe_survives_kill():
    with Broker(STORE) as b:
        s = b.subscriber("sub", [("u/a", 1), ("u/b", 1)], clean=False)
        s.sendall(unsubscribe(2, ["u/a"]))
        expect_packet(s, unsuback(2), "UNSUBACK")
        s.sendall(disconnect())
        b.restart(kill=True)
        _pub_acked(b, "pub", "u/a", [b"gone"])
        _pub_acked(b, "pub", "u/b", [b"kept"])
        s = b.client("sub", clean=False, session_present=True)
        d = expect_publish(s, "u/b", b"kept", qos=1)
        s.sendall(puback(d["mid"]))
        expect_nothing(s)


@known_mosquitto_difference(KILLED)
def test_in_flight_resent_with_same_packet_id_after_kill():
    """A QoS 1 PUBLISH sent but not acknowledged before the crash comes again with DUP and the
    same packet id."""
    with Broker(STORE) as b:
        s = b.subscriber("sub", [("f/#", 1)], clean=False)
        _pub_acked(b, "pub", "f/1", [b"once"])
        d = expect_publish(s, "f/1", b"once", qos=1)
        # A QoS 1 PUBLISH goes out before its in-flight row is on disk (a QoS 2 one waits):
        # killed before that commit, moted sends it again as a new message (another packet id),
        # which QoS 1 allows. Here the commit has had its time.
        time.sleep(0.3)
        b.restart(kill=True)
        s = b.client("sub", clean=False, session_present=True)
        again = expect_publish(s, "f/1", b"once", qos=1, dup=True, name="resent PUBLISH")
        assert again["mid"] == d["mid"], (again["mid"], d["mid"])
        s.sendall(puback(d["mid"]))
        expect_nothing(s)


@known_mosquitto_difference(KILLED)
def test_outgoing_qos2_pubrel_after_kill():
    """Exactly once outward: after PUBREC the broker owes a PUBREL, not the message. After a
    crash it sends the PUBREL again, and never the PUBLISH."""
    with Broker(STORE) as b:
        s = b.subscriber("sub", [("e/#", 2)], clean=False)
        _pub_acked(b, "pub", "e/1", [b"exactly"], qos=2)
        d = expect_publish(s, "e/1", b"exactly", qos=2)
        s.sendall(pubrec(d["mid"]))
        expect_packet(s, pubrel(d["mid"]), "PUBREL")
        b.restart(kill=True)
        s = b.client("sub", clean=False, session_present=True)
        expect_packet(s, pubrel(d["mid"]), "PUBREL again, not the PUBLISH")
        s.sendall(pubcomp(d["mid"]))
        expect_nothing(s)


@known_mosquitto_difference(KILLED)
def test_incoming_qos2_packet_id_survives_kill():
    """Exactly once inward: a QoS 2 PUBLISH answered with PUBREC and sent again after a crash
    (DUP, same packet id) is acknowledged, not delivered a second time."""
    with Broker(STORE) as b:
        _persistent_sub(b, "sub", "i/#", qos=2)
        p = b.client("pub", clean=False)
        p.sendall(publish("i/1", b"one", qos=2, mid=7))
        expect_packet(p, pubrec(7), "PUBREC")
        b.restart(kill=True)
        p = b.client("pub", clean=False, session_present=True)
        p.sendall(publish("i/1", b"one", qos=2, mid=7, dup=True))
        expect_packet(p, pubrec(7), "PUBREC for the resent PUBLISH")
        p.sendall(pubrel(7))
        expect_packet(p, pubcomp(7), "PUBCOMP")
        s = b.client("sub", clean=False, session_present=True)
        d = _expect_msg(s, "i/1", b"one", 2, "the QoS 2 message, once")
        s.sendall(pubrec(d["mid"]))
        expect_packet(s, pubrel(d["mid"]), "PUBREL")
        s.sendall(pubcomp(d["mid"]))
        expect_nothing(s, timeout=0.5, name="no second copy")


def test_session_expiry_counts_across_restart():
    """5.0: a session that expires while the broker is down is gone after the restart; one
    with time left is still there."""
    with Broker(STORE) as b:
        for cid, secs in (("short", 1), ("long", 600)):
            s = b.subscriber(cid, [("x/" + cid, 1)], proto=V5, clean=False,
                             props=props(session_expiry_interval=secs))
            s.sendall(disconnect(proto=V5))
            s.close()
        b.stop()
        time.sleep(1.5)  # the broker is down while the short session's second passes
        b.start()
        b.client("short", proto=V5, clean=False, session_present=False)
        b.client("long", proto=V5, clean=False, session_present=True)


def test_message_expiry_counts_across_restart():
    """5.0: a queued message whose expiry passes while the broker is down is not delivered;
    one with time left arrives with less than it started with."""
    with Broker(STORE) as b:
        _persistent_sub(b, "sub", "m/#", proto=V5, props=props(session_expiry_interval=600))
        _pub_acked(b, "pub", "m/short", [b"s"], proto=V5, props_=props(message_expiry_interval=1))
        _pub_acked(b, "pub", "m/long", [b"l"], proto=V5, props_=props(message_expiry_interval=100))
        b.stop()
        time.sleep(2.1)  # the broker is down while the short expiry passes
        b.start()
        s = b.client("sub", proto=V5, clean=False, session_present=True,
                     props=props(session_expiry_interval=600))
        d = expect_type(s, PUBLISH, "the message with time left", proto=V5)
        assert d["topic"] == "m/long", d
        left = d["props"]["message_expiry_interval"]
        assert 90 <= left <= 98, left
        s.sendall(puback(d["mid"], proto=V5))
        expect_nothing(s, proto=V5)


def test_clean_start_forgets_stored_session():
    """A clean start drops the stored session: after a restart it does not come back."""
    with Broker(STORE) as b:
        _persistent_sub(b, "sub", "c/#")
        c = b.client("sub", clean=True)
        c.sendall(disconnect())
        b.restart()
        b.client("sub", clean=False, session_present=False)


def test_persistence_false_keeps_nothing():
    with Broker(STORE.replace("persistence true", "persistence false")) as b:
        _pub_acked(b, "p", "r/n", [b"v"], retain=True)
        b.restart()
        s = b.subscriber("s", [("r/n", 1)])
        expect_nothing(s, name="no retained message without persistence")


@known_mosquitto_difference(MOTED_ONLY)
def test_restore_with_other_worker_count():
    """A store written by 2 workers is read by 1 and by 3: sessions live wherever their client
    id hashes now."""
    with Broker(STORE + "workers 2\n") as b:
        for i in range(6):
            _persistent_sub(b, "sub%d" % i, "w/%d" % i)
        for i in range(6):
            _pub_acked(b, "pub", "w/%d" % i, [b"for %d" % i])
        for workers in (1, 3):
            b.template = STORE + "workers %d\n" % workers
            b.restart(kill=True)
        for i in range(6):
            s = b.client("sub%d" % i, clean=False, session_present=True)
            d = _expect_msg(s, "w/%d" % i, b"for %d" % i, 1, "message for sub%d" % i)
            s.sendall(puback(d["mid"]))


def _fnv_home(client_id, workers):
    h = 2166136261
    for c in client_id.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h % workers if workers > 1 else 0


@known_mosquitto_difference(MOTED_ONLY)
def test_crash_before_other_worker_matched_is_repaired():
    """The crash window of a 2-worker broker: the publishing worker stored the message and
    sent the PUBACK, the subscriber's worker had not matched it yet. The next start matches it
    for that worker's sessions, and only for those whose worker had not matched it."""
    home_late = _fnv_home("late", 2)
    done = next("done%d" % i for i in range(100) if _fnv_home("done%d" % i, 2) != home_late)
    with Broker(STORE + "workers 2\n") as b:
        _persistent_sub(b, "late", "cw/#")
        _persistent_sub(b, done, "cw/#")
        b.stop()
        # Message 1000 was stored by the worker `done` lives on (so that worker matched it in
        # the same transaction); late's worker has no `routed` row saying it matched it.
        _unmatched_message(b, 1 - home_late, b"cw/1", b"repaired")
        b.start()
        s = b.client("late", clean=False, session_present=True)
        d = expect_publish(s, "cw/1", b"repaired", qos=1, name="the message late's worker missed")
        s.sendall(puback(d["mid"]))
        d = b.client(done, clean=False, session_present=True)
        expect_nothing(d, name="no copy for a session whose worker had matched it")
        b.stop()
        # Once matched again, it is not matched a third time (the next start finds it done).
        b.start()
        s = b.client("late", clean=False, session_present=True)
        expect_nothing(s, name="nothing after it was acknowledged")


def _refused(b, what):
    """Starts b, which must not start; returns its log's tail."""
    try:
        b.start()
    except AssertionError:
        return b.log_tail()
    b.stop()
    raise AssertionError("moted started %s" % what)


def _sql(b, *statements):
    """Runs statements (text, or (text, parameters)) on b's store file, moted stopped."""
    db = sqlite3.connect(_db(b))
    for st in statements:
        db.execute(*(st if isinstance(st, tuple) else (st,)))
    db.commit()
    db.close()


def _unmatched_message(b, src, topic, payload):
    """What a crash can leave in a 2-worker store: QoS 1 message 1000, stored by worker src as
    it was published, with no `routed` row saying any other worker matched it."""
    _sql(b, ("INSERT INTO msgs VALUES(1000, ?, NULL, ?, x'', ?, 1, 0, 0)", (src, topic, payload)),
         "UPDATE meta SET value = 2 WHERE key = 'workers'")


@known_mosquitto_difference(MOTED_ONLY)
def test_corrupt_store_refused():
    """A damaged store: moted does not start, and says what is wrong and how to recover."""
    b = Broker(STORE)
    with open(_db(b), "wb") as f:
        f.write(b"this is not an SQLite database, it is what a bad SD card leaves" * 100)
    log = _refused(b, "on a corrupt store")
    assert "not a readable SQLite database" in log and ".recover" in log, log


@known_mosquitto_difference(MOTED_ONLY)
def test_store_from_newer_format_refused():
    with Broker(STORE) as b:
        pass
    _sql(b, "PRAGMA user_version = 99")
    log = _refused(b, "on a store of a newer format")
    assert "format 99, written by a newer moted" in log, log


@known_mosquitto_difference(MOTED_ONLY)
def test_foreign_sqlite_file_refused():
    b = Broker(STORE)
    _sql(b, "CREATE TABLE photos(id INTEGER PRIMARY KEY, jpeg BLOB)")
    log = _refused(b, "on somebody else's database")
    assert "not a moted store" in log, log
    assert sqlite3.connect(_db(b)).execute("SELECT count(*) FROM photos").fetchone() == (0,)


@known_mosquitto_difference(MOTED_ONLY)
def test_store_file_mode_0600():
    with Broker(STORE) as b:
        _pub_acked(b, "p", "r/m", [b"v"], retain=True)
        for name in ("moted.db", "moted.db-wal"):
            path = os.path.join(b.dir, name)
            if os.path.exists(path):
                assert os.stat(path).st_mode & 0o777 == 0o600, (name, oct(os.stat(path).st_mode))


@known_mosquitto_difference(MOTED_ONLY)
def test_full_disk_refuses_and_keeps_what_was_acknowledged():
    """The disk fills (here: a file size limit on moted). A publisher whose PUBACK waited for
    the failed commit gets DISCONNECT 0x97 instead of an acknowledgement that is not on disk;
    while the store fails, QoS 1 messages get PUBACK 0x97; moted keeps running; after a restart
    with room every message acknowledged before is delivered and the store checks clean."""
    with Broker(STORE) as b:
        _persistent_sub(b, "sub", "d/#", proto=V5, props=props(session_expiry_interval=600))
        b.stop()
        limit = os.path.getsize(_db(b)) + 200 * 1024

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        log = open(b.log_path, "ab")
        proc = subprocess.Popen([b.path, "-c", b.conf_path], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=small_files)
        log.close()
        acked, refused, cut = [], 0, 0
        try:
            def connected():
                deadline = time.monotonic() + 5
                while True:
                    try:
                        p = socket.create_connection(("127.0.0.1", b.port), timeout=3)
                        break
                    except OSError:
                        assert time.monotonic() < deadline, b.log_tail()
                        time.sleep(0.05)
                p.sendall(connect("pub", proto=V5))
                expect_connack(p, proto=V5)
                return p

            p = connected()
            payload = b"x" * 20000
            for i in range(1, 80):
                p.sendall(publish("d/1", payload, qos=1, mid=i, proto=V5))
                raw = recv_packet(p, 3)
                kind = raw[0] >> 4
                if kind == DISCONNECT:
                    # The commit its PUBACK waited for failed: not acknowledged, told why.
                    assert parse(raw, V5).get("rc") == 0x97, describe(raw, V5)
                    cut += 1
                    p.close()
                    p = connected()
                    continue
                d = parse(raw, V5)
                assert kind == PUBACK, describe(raw, V5)
                if d.get("rc", 0) == 0:
                    acked.append(i)
                else:
                    assert d["rc"] == 0x97, d
                    refused += 1
                    break
            p.close()
            # Which comes first depends on which commit fails: one a PUBACK waited for (that
            # client is disconnected), or another worker's (the next message is refused).
            assert cut or refused, "no DISCONNECT/PUBACK 0x97 after %d acknowledged\n%s" % (
                len(acked), b.log_tail())
            assert acked, "nothing was acknowledged before the disk filled"
            assert proc.poll() is None, "moted stopped on a full disk\n" + b.log_tail()
            assert "cannot commit" in b.log_tail(60), b.log_tail(60)
        finally:
            proc.kill()
            proc.wait(5)
        b.start()
        s = b.client("sub", proto=V5, clean=False, session_present=True,
                     props=props(session_expiry_interval=600))
        got = 0
        for _ in acked:
            d = expect_type(s, PUBLISH, "acknowledged message %d of %d" % (got + 1, len(acked)),
                            proto=V5)
            s.sendall(puback(d["mid"], proto=V5))
            got += 1
        # A message whose commit failed and was never acknowledged may or may not be there.
        assert sqlite3.connect(_db(b)).execute("PRAGMA integrity_check").fetchone() == ("ok",)


@known_mosquitto_difference(MOTED_ONLY)
def test_impossible_rows_refused():
    """A store that reads as SQLite but holds what moted never writes (a QoS 7 delivery, a
    message whose properties do not parse, a topic with a wildcard): refused, with the row named,
    never sent to clients."""
    bad = [
        "UPDATE queue SET qos = 7",
        "UPDATE msgs SET props = x'26ff'",
        "UPDATE msgs SET topic = CAST('q/#' AS BLOB)",
        "UPDATE sessions SET version = 9",
    ]
    for change in bad:
        with Broker(STORE) as b:
            _persistent_sub(b, "sub", "q/#")
            _pub_acked(b, "pub", "q/a", [b"m"])
        _sql(b, change)
        log = _refused(b, "after: %s" % change)
        assert "is not a valid" in log and ".recover" in log, (change, log)


@known_mosquitto_difference(MOTED_ONLY)
def test_periodic_fsync_keeps_acknowledged_after_kill():
    """persistence_fsync periodic N: commits are not fsynced one by one, but a crash of the
    process (not of the machine) still loses nothing acknowledged, and the periodic checkpoint
    runs while the broker is idle (the WAL is folded into the store file)."""
    with Broker(STORE + "persistence_fsync periodic 1\n") as b:
        _persistent_sub(b, "sub", "pf/#")
        _pub_acked(b, "pub", "pf/a", [b"p%d" % i for i in range(20)])
        time.sleep(1.6)
        db = sqlite3.connect(_db(b))
        assert db.execute("SELECT count(*) FROM queue").fetchone() == (20,)
        db.close()
        b.restart(kill=True)
        s = b.client("sub", clean=False, session_present=True)
        for i in range(20):
            d = _expect_msg(s, "pf/a", b"p%d" % i, 1, "message %d" % i)
            s.sendall(puback(d["mid"]))


@known_mosquitto_difference(MOTED_ONLY)
def test_qos2_whose_message_row_went_first_gets_its_pubrel():
    """The crash case found by tests/crash: a QoS 2 delivery's message row was deleted (by the
    worker that dropped the last reference) in a commit before the one that recorded PUBREC.
    The row still says 'waiting for PUBREC' but the message is gone: the PUBREC came, so moted
    sends PUBREL with the same packet id and does not give that id to another message."""
    with Broker(STORE) as b:
        s = b.subscriber("sub", [("z/#", 2)], clean=False)
        _pub_acked(b, "pub", "z/1", [b"first"], qos=2)
        d = expect_publish(s, "z/1", b"first", qos=2)
        s.sendall(disconnect())
        s.close()
        b.stop()
        db = sqlite3.connect(_db(b))
        assert db.execute("SELECT state FROM queue").fetchall() == [(2,)]
        db.close()
        _sql(b, "DELETE FROM msgs")
        b.start()
        s = b.client("sub", clean=False, session_present=True)
        expect_packet(s, pubrel(d["mid"]), "PUBREL for the delivery whose PUBREC came")
        _pub_acked(b, "pub", "z/2", [b"second"], qos=2)
        d2 = expect_publish(s, "z/2", b"second", qos=2)
        assert d2["mid"] != d["mid"], "packet id %d given again while its flow is open" % d["mid"]


@known_mosquitto_difference(KILLED)
def test_shared_subscription_queue_survives_kill():
    """A stored member of a share group is offline: what the group gets is queued for it, and
    survives a SIGKILL (the group's home worker writes the member's row, whichever worker the
    member lives on)."""
    with Broker(STORE + "workers 2\n") as b:
        for i in range(4):  # members spread over both workers
            _persistent_sub(b, "member%d" % i, "$share/g/sh/#")
        _pub_acked(b, "pub", "sh/1", [b"s%d" % i for i in range(8)])
        b.restart(kill=True)
        got = []
        for i in range(4):
            s = b.client("member%d" % i, clean=False, session_present=True)
            while True:
                try:
                    d = expect_type(s, PUBLISH, "shared", timeout=0.5)
                except AssertionError:
                    break
                got.append(d["payload"])
                s.sendall(puback(d["mid"]))
        assert sorted(got) == [b"s%d" % i for i in range(8)], got


@known_mosquitto_difference(MOTED_ONLY)
def test_crash_before_share_group_home_matched_is_repaired():
    """As test_crash_before_other_worker_matched_is_repaired, for a share group: the worker the
    group is homed on had not matched the message; the next start gives it to one member."""
    group = next("$share/g%d/gh/#" % i for i in range(100)
                 if _fnv_home("$share/g%d/gh/#" % i, 2) == 1)
    with Broker(STORE + "workers 2\n") as b:
        _persistent_sub(b, "m1", group)
        _persistent_sub(b, "m2", group)
        b.stop()
        _unmatched_message(b, 0, b"gh/1", b"for one member")
        b.start()
        got = 0
        for cid in ("m1", "m2"):
            s = b.client(cid, clean=False, session_present=True)
            try:
                d = expect_publish(s, "gh/1", b"for one member", qos=1, timeout=0.5)
                s.sendall(puback(d["mid"]))
                got += 1
            except AssertionError:
                pass
        assert got == 1, "the group got it %d times" % got
