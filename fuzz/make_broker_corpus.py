#!/usr/bin/env python3
"""fuzz/make_broker_corpus.py - writes the seed corpus of fuzz_broker.c (fuzz/corpus/broker).

Each file is a script for the harness (format in fuzz/README.md): a header byte choosing workers,
configuration, read buffer and memory budget, then operations on up to four client slots. The
scripts are whole conversations a real client has with moted: MQTT 3.1, 3.1.1 and 5.0 CONNECT,
SUBSCRIBE, PUBLISH at QoS 0/1/2 with every acknowledgement, retained messages, wills, topic
aliases, persistent sessions, take-over, shared subscriptions, keep alive, DISCONNECT, and two
clients publishing to each other, so the fuzzer starts deep inside the broker's state. Packet
bytes come from make_corpus.py's encoders. Deterministic; writes only its own files.

It also writes corpus/broker/regress-*.bin: inputs that showed faults since fixed.

Usage: python3 fuzz/make_broker_corpus.py [OUTDIR]   (defaults to fuzz/corpus/broker)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_corpus import (  # noqa: E402
    AUTH, CLEAN, CONNECT, PUBLISH, CORRELATION, CONTENT_TYPE, DISCONNECT, MAX_PACKET, MSG_EXPIRY,
    PAYLOAD_FORMAT, PINGREQ, PUBACK, PUBCOMP, PUBREC, PUBREL, RECEIVE_MAX, RESPONSE_TOPIC,
    SESSION_EXPIRY, SUB_ID, SUBSCRIBE, TOPIC_ALIAS, USER, PASS, WILL, WILL_DELAY, WILL_RETAIN, ack, connect,
    p_byte, p_pair, p_str, p_u16, p_u32, p_vbi, packet, props, publish, s, subscribe, u16,
    unsubscribe, will_qos,
)

# --- the harness's script format (keep in step with fuzz_broker.c) --------------------------------

OP_OPEN, OP_WRITE, OP_WRITE2, OP_CLOSE, OP_PAUSE, OP_TIME, OP_RUN, OP_STOP = range(8)
# OP_TIME steps: 1 s, 5 s, 11 s, 1 min, 10 min, 1 h, 1 day, forever
T1S, T5S, T11S, T1MIN, T10MIN, T1H, T1D, TFOREVER = range(8)
# Configurations (fuzz_broker.c make_configs)
CFG_DEFAULT, CFG_SMALL_QUEUES, CFG_QOS1_NO_RETAIN, CFG_SIZES, CFG_NO_ZERO_ID, CFG_NO_ANON, \
    CFG_QOS0, CFG_UNLIMITED = range(8)
# Worker read buffer: 64 KiB, 1 KiB, 100 B, 16 B; memory budget: none, 32 KiB, 6 KiB
RBUF_64K, RBUF_1K, RBUF_100, RBUF_16 = range(4)
MEM_NONE, MEM_32K, MEM_6K = 0, 2, 3


def header(workers=1, config=CFG_DEFAULT, rbuf=RBUF_64K, mem=MEM_NONE):
    return bytes([(workers - 1) | config << 1 | rbuf << 4 | mem << 6])


class Script:
    def __init__(self, **kw):
        self.out = bytearray(header(**kw))

    def op(self, kind, slot=0, flag=0):
        self.out.append(flag << 5 | kind << 2 | slot)
        return self

    def open(self, slot, worker=0):
        return self.op(OP_OPEN, slot, worker)

    def send(self, slot, *packets, hold=False):
        """Writes the packets in one write (several writes if longer than 64 KiB)."""
        data = b"".join(packets)
        while True:
            chunk, data = data[:65535], data[65535:]
            if len(chunk) < 256:
                self.op(OP_WRITE, slot, int(hold or bool(data))).out.append(len(chunk))
            else:
                self.op(OP_WRITE2, slot, int(hold or bool(data))).out += u16(len(chunk))
            self.out += chunk
            if not data:
                return self

    def trickle(self, slot, data, step):
        """Writes data `step` bytes at a time, the broker running between writes."""
        for i in range(0, len(data), step):
            self.send(slot, data[i:i + step])
        return self

    def close(self, slot, outright=False):
        return self.op(OP_CLOSE, slot, int(outright))

    def pause(self, slot, on=True):
        return self.op(OP_PAUSE, slot, int(on))

    def time(self, step):
        self.op(OP_TIME).out.append(step)
        return self

    def run(self, budget=0):
        """budget 1-6: from now on the broker may allocate only 0, 64, 256, 1 KiB, 4 KiB or
        16 KiB more; 7: no limit."""
        return self.op(OP_RUN, 0, budget)

    def stop(self, mid_turn=False):
        return self.op(OP_STOP, 0, int(mid_turn))

    def bytes(self):
        return bytes(self.out)


# --- packets -------------------------------------------------------------------------------------

V31, V311, V5 = 3, 4, 5


def conn(version, client_id, flags=CLEAN, keep_alive=60, will=None, user=None, password=None,
         prop_bytes=b""):
    """will: (topic, payload, qos, retain, will_prop_bytes)."""
    payload = s(client_id)
    if will:
        topic, data, qos, retain, wprops = will
        flags |= WILL | will_qos(qos) | (WILL_RETAIN if retain else 0)
        payload += ((wprops or props()) if version == V5 else b"") + s(topic) + s(data)
    if user is not None:
        flags |= USER
        payload += s(user)
    if password is not None:
        flags |= PASS
        payload += s(password)
    return connect(version, flags, keep_alive, payload, prop_bytes)


def pub(version, topic, payload, qos=0, pid=0, retain=0, dup=0, prop_bytes=b""):
    return publish(version, topic, payload, qos=qos, packet_id=pid, dup=dup, retain=retain,
                   prop_bytes=prop_bytes)


def sub(version, pid, *filters, prop_bytes=b""):
    """filters: (filter, options byte) pairs."""
    return subscribe(version, pid, list(filters), prop_bytes)


def unsub(version, pid, *filters, prop_bytes=b""):
    return unsubscribe(version, pid, list(filters), prop_bytes)


def puback(pid, version=V311, reason=None):
    return ack(PUBACK, pid, version, reason)


def pubrec(pid, version=V311, reason=None):
    return ack(PUBREC, pid, version, reason)


def pubrel(pid, version=V311, reason=None):
    return ack(PUBREL, pid, version, reason)


def pubcomp(pid, version=V311, reason=None):
    return ack(PUBCOMP, pid, version, reason)


PING = packet(PINGREQ, 0, b"")
BYE = packet(DISCONNECT, 0, b"")


def bye5(reason=0, prop_bytes=b""):
    return packet(DISCONNECT, 0, bytes([reason]) + (prop_bytes or props()))


# Subscription options (5.0): QoS in bits 0-1, No Local 0x04, Retain As Published 0x08,
# Retain Handling in bits 4-5.
NL, RAP, RH1, RH2 = 0x04, 0x08, 0x10, 0x20


# --- the scripts -----------------------------------------------------------------------------------

def seeds():
    out = {}

    # One client: connect, ping, disconnect; each version.
    out["v311_connect_ping_disconnect"] = Script().send(0, conn(V311, "c1"), PING, BYE)
    out["v31_connect_ping_disconnect"] = Script().send(0, conn(V31, "c31"), PING, BYE)
    out["v5_connect_props_disconnect"] = Script().send(0, conn(V5, "c5", keep_alive=30, prop_bytes=props(
        p_u32(SESSION_EXPIRY, 60), p_u16(RECEIVE_MAX, 10), p_u32(MAX_PACKET, 1024),
        p_byte(0x17, 0), p_byte(0x19, 1), p_pair("k", "v"))), PING, bye5())

    # QoS 0/1/2 to itself, every acknowledgement (the broker numbers its deliveries 1, 2, ...).
    for v, name in ((V311, "v311"), (V5, "v5")):
        out[name + "_self_qos012"] = Script().send(
            0, conn(v, "self-" + name), sub(v, 1, ("a/#", 2)), pub(v, "a/0", b"zero"),
            pub(v, "a/1", b"one", qos=1, pid=10), pub(v, "a/2", b"two", qos=2, pid=11),
            pubrel(11, v)).send(0, puback(1, v), pubrec(2, v)).send(0, pubcomp(2, v), BYE)

    # Two clients publishing to each other, both ways, QoS 0-2; 1 and 2 workers.
    for workers in (1, 2):
        for v, name in ((V311, "v311"), (V5, "v5")):
            sc = Script(workers=workers).send(0, conn(v, "alice"), sub(v, 1, ("to/alice", 2)))
            sc.send(1, conn(v, "bob"), sub(v, 1, ("to/bob", 1), ("all/+", 0)))
            sc.send(0, pub(v, "to/bob", b"hi bob", qos=1, pid=1), pub(v, "all/x", b"to all"))
            sc.send(1, puback(1, v), pub(v, "to/alice", b"hi alice", qos=2, pid=7))
            sc.send(1, pubrel(7, v)).send(0, pubrec(1, v)).send(0, pubcomp(1, v))
            sc.send(0, BYE).send(1, BYE)
            out["%s_two_clients_w%d" % (name, workers)] = sc

    # Retained: set, replace, read by a later subscriber, cleared with an empty payload.
    for workers in (1, 2):
        sc = Script(workers=workers).send(0, conn(V311, "pub-r"),
                                          pub(V311, "r/a", b"first", retain=1),
                                          pub(V311, "r/a", b"second", qos=1, pid=1, retain=1),
                                          pub(V311, "r/b/c", b"deep", qos=2, pid=2, retain=1),
                                          pubrel(2), BYE)
        sc.send(1, conn(V5, "sub-r"), sub(V5, 1, ("r/#", 2), ("r/a", 1 | RH1), ("r/+/c", 2 | RAP)))
        sc.send(1, puback(1, V5), pubrec(2, V5), pubrec(3, V5)).send(1, pubcomp(2, V5), pubcomp(3, V5))
        sc.send(2, conn(V311, "clear"), pub(V311, "r/a", b"", retain=1), BYE)
        sc.send(1, sub(V5, 2, ("r/#", 0 | RH2)), unsub(V5, 3, "r/#", "r/a", "nothing"), bye5())
        out["retained_set_read_clear_w%d" % workers] = sc

    # Wills: 3.1.1 abnormal close publishes it; a DISCONNECT discards it.
    for workers in (1, 2):
        sc = Script(workers=workers).send(1, conn(V311, "watcher"), sub(V311, 1, ("status/#", 2)))
        sc.send(0, conn(V311, "dev", will=("status/dev", b"gone", 1, 1, None)), PING)
        sc.close(0, outright=True).send(1, puback(1))
        sc.send(2, conn(V311, "dev2", will=("status/dev2", b"gone2", 2, 0, None)), BYE)
        sc.send(3, conn(V311, "late"), sub(V311, 1, ("status/+", 0)), BYE)
        out["v311_will_w%d" % workers] = sc

    # 5.0 will with a delay and a session expiry; the clock moves so both fire.
    wprops = props(p_u32(WILL_DELAY, 5), p_byte(PAYLOAD_FORMAT, 1), p_u32(MSG_EXPIRY, 100),
                   p_str(CONTENT_TYPE, "text/plain"), p_str(RESPONSE_TOPIC, "reply/dev"),
                   p_str(CORRELATION, b"\x01\x02"), p_pair("why", "power"))
    for workers in (1, 2):
        sc = Script(workers=workers).send(1, conn(V5, "watch5"), sub(V5, 1, ("status/#", 1, ), prop_bytes=props(p_vbi(SUB_ID, 9))))
        sc.send(0, conn(V5, "dev5", will=("status/dev5", b"offline", 1, 0, wprops),
                        prop_bytes=props(p_u32(SESSION_EXPIRY, 10))))
        sc.close(0, outright=True).time(T5S).send(1, puback(1, V5)).time(T11S)
        sc.send(0, conn(V5, "dev5", flags=0, prop_bytes=props(p_u32(SESSION_EXPIRY, 10))), bye5())
        sc.send(2, conn(V5, "dev6", will=("status/dev6", b"bye", 0, 1, props(p_u32(WILL_DELAY, 100))),
                        prop_bytes=props(p_u32(SESSION_EXPIRY, 50))), bye5(0x04))
        sc.time(T1MIN).send(1, bye5())
        out["v5_will_delay_expiry_w%d" % workers] = sc

    # Persistent 3.1.1 session: messages queued while offline, resent on return.
    for workers in (1, 2):
        sc = Script(workers=workers).send(0, conn(V311, "keeper", flags=0), sub(V311, 1, ("q/#", 2)), BYE)
        sc.send(1, conn(V311, "feeder"), pub(V311, "q/1", b"one", qos=1, pid=1),
                pub(V311, "q/2", b"two", qos=2, pid=2), pubrel(2), pub(V311, "q/0", b"zero"))
        sc.send(0, conn(V311, "keeper", flags=0)).send(0, puback(1), pubrec(2)).send(0, pubcomp(2))
        # Delivered but not acknowledged: resent with DUP after a reconnect.
        sc.send(1, pub(V311, "q/3", b"three", qos=1, pid=3)).close(0, outright=True)
        sc.send(0, conn(V311, "keeper", flags=0), puback(3), BYE)
        sc.send(0, conn(V311, "keeper", flags=CLEAN), BYE).send(1, BYE)
        out["v311_persistent_session_w%d" % workers] = sc

    # Take-over: a second connection with the same client id (3.1.1, then 5.0 with expiry).
    for workers in (1, 2):
        sc = Script(workers=workers).send(0, conn(V311, "twin"), sub(V311, 1, ("t", 1)))
        sc.send(1, conn(V311, "twin", flags=0), PING)
        sc.send(2, conn(V5, "twin5", prop_bytes=props(p_u32(SESSION_EXPIRY, 100))), sub(V5, 1, ("t", 2)))
        sc.send(3, conn(V5, "twin5", flags=0, prop_bytes=props(p_u32(SESSION_EXPIRY, 100))))
        sc.send(1, pub(V311, "t", b"x", qos=2, pid=4), pubrel(4)).send(3, bye5(0, props(p_u32(SESSION_EXPIRY, 0))))
        out["takeover_w%d" % workers] = sc

    # 5.0 topic aliases, subscription identifiers, No Local, user properties, message expiry.
    sc = Script().send(0, conn(V5, "alias"), sub(V5, 1, ("al/#", 1 | NL), ("al/+", 2 | RAP),
                                                  prop_bytes=props(p_vbi(SUB_ID, 5), p_pair("s", "1"))))
    sc.send(1, conn(V5, "alias2"), sub(V5, 1, ("al/x", 2), prop_bytes=props(p_vbi(SUB_ID, 268435455))))
    sc.send(0, pub(V5, "al/x", b"set", prop_bytes=props(p_u16(TOPIC_ALIAS, 1))),
            pub(V5, "", b"via alias", qos=1, pid=2, prop_bytes=props(p_u16(TOPIC_ALIAS, 1))),
            pub(V5, "al/y", b"remap", prop_bytes=props(p_u16(TOPIC_ALIAS, 1), p_pair("u", "v"))),
            pub(V5, "", b"expiring", qos=2, pid=3, prop_bytes=props(p_u16(TOPIC_ALIAS, 1), p_u32(MSG_EXPIRY, 1))),
            pubrel(3, V5))
    sc.send(1, puback(1, V5), pubrec(2, V5, 0x80), pubcomp(9, V5))
    sc.send(0, pub(V5, "", b"alias 11", prop_bytes=props(p_u16(TOPIC_ALIAS, 11))))  # over the maximum
    sc.send(1, bye5())
    out["v5_alias_subid_nolocal"] = sc

    # Shared subscriptions across workers: members on both, publishes round-robin.
    for workers in (1, 2):
        sc = Script(workers=workers).send(0, conn(V5, "m1"), sub(V5, 1, ("$share/g/job/+", 1)))
        sc.send(1, conn(V311, "m2"), sub(V311, 1, ("$share/g/job/+", 2), ("$share/h/#", 0)))
        sc.send(2, conn(V5, "boss"))
        for i in range(4):
            sc.send(2, pub(V5, "job/%d" % i, b"work", qos=1, pid=i + 1))
        sc.send(0, puback(1, V5), puback(2, V5)).send(1, puback(1), puback(2))
        sc.send(1, unsub(V311, 2, "$share/g/job/+")).send(2, pub(V5, "job/9", b"more", qos=1, pid=9))
        sc.send(0, bye5()).send(1, BYE).send(2, bye5())
        out["shared_subscriptions_w%d" % workers] = sc

    # CONNECT and the packets after it in one write, on 2 workers: the hand-over carries the rest.
    for cid in ("h0", "h1", "h2", "h3"):
        sc = Script(workers=2).send(0, conn(V311, cid), sub(V311, 1, ("x", 1)),
                                    pub(V311, "x", b"self", qos=1, pid=1), PING, hold=True)
        sc.send(0, puback(1)[:2], hold=True).run().send(0, puback(1)[2:], BYE)
        out["handover_with_data_" + cid] = sc
    out["handover_then_close"] = Script(workers=2).open(0, 1).send(0, conn(V5, "h1")[:12], hold=True) \
        .send(0, conn(V5, "h1")[12:], sub(V5, 1, ("y", 0)), hold=True).close(0)

    # Byte-by-byte and odd-sized writes: partial packets in every state.
    stream = conn(V5, "slow", prop_bytes=props(p_u32(SESSION_EXPIRY, 5))) + sub(V5, 1, ("s/#", 2)) + \
        pub(V5, "s/1", b"x" * 40, qos=2, pid=1) + pubrel(1, V5) + PING + bye5()
    out["trickle_1"] = Script().trickle(0, stream, 1)
    out["trickle_7"] = Script().trickle(0, stream, 7)
    out["trickle_7_rbuf16"] = Script(rbuf=RBUF_16).trickle(0, stream, 7)

    # A packet larger than the worker's read buffer, whole and in pieces.
    big = pub(V311, "big/one", bytes(range(256)) * 3, qos=1, pid=1)
    for rbuf, tag in ((RBUF_100, "rbuf100"), (RBUF_16, "rbuf16"), (RBUF_1K, "rbuf1k")):
        sc = Script(rbuf=rbuf).send(0, conn(V311, "bigc"), sub(V311, 1, ("big/#", 1)))
        sc.send(0, big).send(0, puback(1)).trickle(0, big, 200).send(0, puback(2), BYE)
        out["large_packet_" + tag] = sc

    # Keep alive: the client goes quiet for 1.5 times its keep alive; a CONNECT that never comes.
    out["keepalive_timeout_v5"] = Script().send(0, conn(V5, "ka", keep_alive=2)).time(T1S).send(0, PING) \
        .time(T5S).send(1, conn(V311, "ka3", keep_alive=3)).time(T5S).open(2).time(T11S)
    out["connect_timeout"] = Script().open(0).send(1, conn(V311, "x")[:5]).time(T11S).send(1, b"\x00")

    # Protocol errors after CONNECT, one per connection: what the broker answers and closes.
    errs = [
        pub(V5, "a/+", b"wild"),                                  # wildcard in a topic name
        pub(V5, "", b"no alias"),                                 # empty topic, no alias
        pub(V5, "", b"unset alias", prop_bytes=props(p_u16(TOPIC_ALIAS, 2))),
        pub(V5, "a", b"sub id", prop_bytes=props(p_vbi(SUB_ID, 1))),
        conn(V5, "again"),                                        # second CONNECT
        packet(AUTH, 0, b""),                                     # AUTH without a method
        packet(2, 0, b"\x00\x00\x00"),                            # CONNACK from a client
        packet(PUBREL, 0, u16(1)),                                # bad flags
        sub(V5, 1, ("$share/g/x", 1 | NL)),                       # no local on a share
        b"\x30\xff\xff\xff\xff\x7f",                              # variable byte integer too long
        packet(SUBSCRIBE, 2, u16(1)),                             # no filters
        bye5(0, props(p_u32(SESSION_EXPIRY, 30))),                # expiry set when CONNECT had 0
    ]
    for i, bad in enumerate(errs):
        out["v5_protocol_error_%02d" % i] = Script().send(0, conn(V5, "err%d" % i), bad)
    out["v311_protocol_errors"] = Script().send(0, conn(V311, "e1"), pub(V311, "a/#", b"x")) \
        .send(1, conn(V311, "e2"), packet(DISCONNECT, 0, b"\x00")) \
        .send(2, conn(V311, "e3"), packet(PUBLISH, 6, s("a") + u16(1))) \
        .send(3, b"\x20\x02\x00\x00")  # not CONNECT first

    # CONNECTs the broker refuses, and unusual client ids.
    out["connect_refusals"] = Script() \
        .send(0, packet(CONNECT, 0, s("MQTT") + b"\x06\x02\x00\x3c" + s("c"))) \
        .send(1, packet(CONNECT, 0, s("MQTX") + b"\x04\x02\x00\x3c" + s("c"))) \
        .send(2, conn(V311, "", flags=0)).send(3, conn(V31, "")) \
        .send(0, conn(V5, "m", prop_bytes=props(p_str(0x15, "SCRAM-SHA-1")))) \
        .send(1, connect(V5, CLEAN | 0x01, 60, s("rsv"))) \
        .send(2, conn(V5, "", prop_bytes=props(p_u32(SESSION_EXPIRY, 30))), sub(V5, 1, ("#", 0)), bye5()) \
        .send(3, conn(V311, "", user="u", password=b"p"), BYE)
    out["refused_anonymous"] = Script(config=CFG_NO_ANON).send(0, conn(V311, "anon")) \
        .send(1, conn(V5, "anon5", user="bob", password=b"pw"))
    out["no_zero_length_id"] = Script(config=CFG_NO_ZERO_ID).send(0, conn(V5, "")) \
        .send(1, conn(V311, "persist", flags=0), sub(V311, 1, ("p", 1)), BYE) \
        .send(2, conn(V311, "pp"), pub(V311, "p", b"long payload, more than max_queued_bytes " * 3, qos=1, pid=1), BYE) \
        .time(T10MIN).send(1, conn(V311, "persist", flags=0), BYE)

    # QoS 2 inbound: a resend before PUBREL, PUBREL for an unknown id, PUBREC/PUBCOMP refused.
    for v, name in ((V311, "v311"), (V5, "v5")):
        out[name + "_qos2_inbound_edges"] = Script().send(
            0, conn(v, "q2" + name), sub(v, 1, ("z", 2)), pub(v, "z", b"1", qos=2, pid=5),
            pub(v, "z", b"1", qos=2, pid=5, dup=1), pubrel(5, v), pubrel(5, v), pubrel(77, v),
            pubrec(1, v), pubcomp(1, v), puback(99, v), pubrec(99, v), pubcomp(99, v), BYE)

    # Limits: windows and queues (the subscriber does not read), packet sizes, QoS and retain.
    sc = Script(config=CFG_SMALL_QUEUES).send(0, conn(V5, "slowsub", flags=0, prop_bytes=props(
        p_u16(RECEIVE_MAX, 1), p_u32(SESSION_EXPIRY, 100))), sub(V5, 1, ("f/#", 2))).pause(0)
    sc.send(1, conn(V311, "fast"))
    for i in range(8):
        sc.send(1, pub(V311, "f/%d" % i, b"m" * (i * 60), qos=i % 3, pid=i + 1), hold=True)
    # Retained messages resent on each SUBSCRIBE: far more output than input, to a paused reader.
    sc.send(1, *[pub(V311, "f/r%d" % i, b"R" * 400, retain=1) for i in range(4)])
    sc.send(0, *[sub(V5, 10 + i, ("f/#", 0)) for i in range(6)])
    sc.send(1, pubrel(2), pubrel(5), pubrel(8)).pause(0, False).send(0, pubrec(1, V5)).send(0, pubcomp(1, V5))
    sc.close(0, outright=True).send(1, pub(V311, "f/x", b"queued", qos=1, pid=20))
    sc.send(0, conn(V5, "slowsub", flags=0)).send(0, puback(1, V5), puback(2, V5), bye5())
    out["window_queue_backpressure"] = sc
    out["v5_max_packet_size_client"] = Script().send(0, conn(V5, "tiny", prop_bytes=props(p_u32(MAX_PACKET, 30))),
                                                     sub(V5, 1, ("big", 1))) \
        .send(1, conn(V5, "sender"), pub(V5, "big", b"L" * 100, qos=1, pid=1), pub(V5, "big", b"s", qos=1, pid=2)) \
        .send(0, puback(1, V5), bye5()).send(1, bye5())
    out["sizes_limits"] = Script(config=CFG_SIZES).send(0, conn(V5, "lim"),
                                                        sub(V5, 1, ("a/b/c/d/e", 0), ("a/#", 1), ("b", 0), ("c", 0), ("d", 0)),
                                                        pub(V5, "a/b/c/d/e", b"deep"), pub(V5, "a/x", b"p" * 40, qos=1, pid=1),
                                                        pub(V5, "a/x", b"p" * 250, qos=1, pid=2))
    out["qos1_no_retain"] = Script(config=CFG_QOS1_NO_RETAIN).send(0, conn(V5, "q1"), sub(V5, 1, ("#", 2)),
                                                                  pub(V5, "a", b"x", qos=1, pid=1), pub(V5, "a", b"y", qos=2, pid=2)) \
        .send(1, conn(V311, "q1b", will=("w", b"w", 2, 0, None))) \
        .send(2, conn(V5, "q1c"), pub(V5, "r", b"ret", retain=1))
    out["qos0_only"] = Script(config=CFG_QOS0).send(0, conn(V5, "z0", keep_alive=0), sub(V5, 1, ("#", 2)),
                                                    pub(V5, "a", b"x"), pub(V5, "a", b"y", qos=1, pid=1), bye5())
    sc = Script(config=CFG_UNLIMITED).send(0, conn(V311, "u", flags=0), sub(V311, 1, ("#", 2)), BYE)
    sc.send(1, conn(V5, "pub-u"), *[pub(V5, "n/%d" % i, b"v", qos=i % 3, pid=i + 1) for i in range(12)])
    sc.send(1, *[pubrel(i + 1, V5) for i in range(2, 12, 3)]).send(0, conn(V311, "u", flags=0)).send(0, BYE)
    out["unlimited_queue_qos0"] = sc

    # Memory budgets: the same conversation with little memory.
    for mem, tag in ((MEM_32K, "32k"), (MEM_6K, "6k")):
        sc = Script(workers=2, mem=mem).send(0, conn(V5, "mem-a", prop_bytes=props(p_u32(SESSION_EXPIRY, 99))),
                                            sub(V5, 1, ("m/#", 2)))
        sc.send(1, conn(V311, "mem-b"), *[pub(V311, "m/%d" % i, b"D" * 300, qos=1, pid=i + 1, retain=1) for i in range(10)])
        sc.send(0, *[puback(i + 1, V5) for i in range(10)]).send(2, conn(V311, "mem-c"), sub(V311, 1, ("m/+", 1)))
        out["memory_budget_" + tag] = sc

    # Allocations failing from a chosen moment: CONNECT, SUBSCRIBE, PUBLISH, a partial packet.
    for budget in (1, 2, 3, 4):
        sc = Script().open(0).run(budget).send(0, conn(V5, "oom", will=("w", b"w", 1, 0, None),
                                                       prop_bytes=props(p_u32(SESSION_EXPIRY, 9)))).run(7)
        sc.send(1, conn(V311, "oom-sub"), sub(V311, 1, ("o/#", 2))).run(budget)
        sc.send(2, conn(V5, "oom-pub"), pub(V5, "o/a", b"x" * 50, qos=2, pid=1, retain=1), pubrel(1, V5),
                pub(V5, "o/b", b"y", qos=1, pid=2, prop_bytes=props(p_u16(TOPIC_ALIAS, 1))))
        sc.send(1, sub(V311, 2, ("o/+", 1), ("$share/g/o/#", 1)), pub(V311, "o/c", b"z" * 300)[:100])
        sc.run(7).send(1, puback(1), pubrec(2)).close(2, outright=True)
        out["oom_from_budget_%d" % budget] = sc

    # Shutdown in the middle of everything (as SIGTERM does).
    sc = Script(workers=2).send(0, conn(V5, "s1", prop_bytes=props(p_u32(SESSION_EXPIRY, 100))),
                                sub(V5, 1, ("$share/g/#", 1), ("x/#", 2)))
    sc.send(1, conn(V311, "s2", will=("x/will", b"w", 1, 1, None)), pub(V311, "x/1", b"a", qos=2, pid=1))
    sc.send(2, conn(V311, "s3"), hold=True).send(3, conn(V5, "s4")[:10], hold=True).stop()
    out["shutdown_in_flight"] = sc
    sc = Script(workers=2).send(0, conn(V5, "s5", prop_bytes=props(p_u32(SESSION_EXPIRY, 100))), sub(V5, 1, ("y/#", 1)))
    # "s6" lives on worker 0, where it connects: no hand-over (that one leaks, see reproducers()).
    sc.open(1, 0).send(1, conn(V311, "s6"), pub(V311, "y/1", b"b", qos=1, pid=1), hold=True).stop(mid_turn=True)
    out["shutdown_mid_turn"] = sc

    # Paths the first fuzzing runs did not reach by themselves.
    out["v5_payload_format_invalid"] = Script().send(0, conn(V5, "pfi"), sub(V5, 1, ("u", 1)),
                                                     pub(V5, "u", b"\xff\xfe", qos=1, pid=1, prop_bytes=props(p_byte(PAYLOAD_FORMAT, 1))),
                                                     pub(V5, "u", b"caf\xc3\xa9", qos=1, pid=2, prop_bytes=props(p_byte(PAYLOAD_FORMAT, 1))),
                                                     bye5())
    out["v5_receive_maximum_exceeded"] = Script(config=CFG_SMALL_QUEUES).send(
        0, conn(V5, "rmx"), *[pub(V5, "q", b"x", qos=2, pid=i + 1) for i in range(3)])
    out["v311_receive_maximum_exceeded"] = Script(config=CFG_SMALL_QUEUES).send(
        0, conn(V311, "rmx3"), *[pub(V311, "q", b"x", qos=2, pid=i + 1) for i in range(3)])
    for workers in (1, 2):
        sc = Script(workers=workers).send(1, conn(V5, "w-watch"), sub(V5, 1, ("lw/#", 2)))
        sc.send(0, conn(V311, "lw3", flags=0, will=("lw/3", b"gone", 2, 0, None))).close(0, outright=True)
        sc.send(2, conn(V5, "lw5", will=("lw/5", b"gone", 1, 1, props(p_u32(MSG_EXPIRY, 10))),
                        prop_bytes=props(p_u32(SESSION_EXPIRY, 60)))).close(2, outright=True)
        sc.send(1, pubrec(1, V5), puback(2, V5)).send(1, pubcomp(1, V5)).time(T1MIN)
        sc.send(3, conn(V5, "lw-late"), sub(V5, 1, ("lw/#", 1)), bye5())
        out["persistent_session_will_w%d" % workers] = sc
    sc = Script().send(0, conn(V5, "refuser"), sub(V5, 1, ("rr", 2))).send(1, conn(V5, "rsrc"))
    sc.send(1, pub(V5, "rr", b"a", qos=2, pid=1), pubrel(1, V5), pub(V5, "rr", b"b", qos=1, pid=2))
    sc.send(0, pubrec(1, V5, 0x80), pubrec(2, V5), puback(2, V5), bye5())
    out["v5_client_refuses_pubrec"] = sc
    many = [("f%d" % i, 0) for i in range(257)]
    out["too_many_filters"] = Script().send(0, conn(V5, "many"), sub(V5, 1, *many)) \
        .send(1, conn(V311, "many3"), unsub(V311, 1, *[f for f, _ in many]))
    sc = Script()
    for i in range(70):
        sc.send(0, conn(V311, "p%02d" % i, flags=0), BYE)
    sc.send(1, conn(V311, "p00", flags=0), BYE)
    out["many_persistent_sessions"] = sc
    # Acknowledged out of order: holes in the in-flight ring, which is compacted, then grown.
    sc = Script().send(0, conn(V311, "ooo"), sub(V311, 1, ("o", 1))).send(1, conn(V311, "ooo-pub"))
    sc.send(1, *[pub(V311, "o", b"%d" % i, qos=1, pid=i + 1) for i in range(8)])
    sc.send(0, *[puback(i) for i in range(2, 9)]).send(1, *[pub(V311, "o", b"more", qos=1, pid=20 + i) for i in range(12)])
    sc.send(0, *[puback(i) for i in range(9, 21)], puback(1), BYE)
    out["out_of_order_acks"] = sc
    # Messages that expire while queued, in flight and retained.
    sc = Script().send(0, conn(V5, "exp", flags=0, prop_bytes=props(p_u32(SESSION_EXPIRY, 1000))),
                       sub(V5, 1, ("e/#", 1)), bye5())
    sc.send(1, conn(V5, "exp-pub"), *[pub(V5, "e/%d" % i, b"v", qos=1, pid=i + 1, retain=i % 2,
                                          prop_bytes=props(p_u32(MSG_EXPIRY, 5 + 100 * i))) for i in range(4)])
    sc.time(T1MIN).send(0, conn(V5, "exp", flags=0, prop_bytes=props(p_u32(SESSION_EXPIRY, 1000))))
    sc.send(2, conn(V5, "exp-late"), sub(V5, 1, ("e/#", 0))).time(T1H).send(2, sub(V5, 2, ("e/#", 1)), bye5())
    out["message_expiry"] = sc

    # MQTT 3.1 with user name and password, subscription failure code.
    out["v31_user_pass"] = Script().send(0, conn(V31, "old", user="bob", password=b"pw"),
                                         sub(V31, 1, ("ok", 1), ("bad/#/x", 0)), pub(V31, "ok", b"1", qos=1, pid=1)) \
        .send(0, puback(1), unsub(V31, 2, "ok"), BYE)
    return out


def regressions():
    """Inputs that showed a fault moted had, each fixed since: written to the corpus as
    regress-<fault>.bin so that the replay test (make test) keeps them fixed. A new fault found
    by the fuzzer gets its script here, with the fix in the same commit."""
    out = {}
    # Resumed with a smaller Receive Maximum than the messages still in flight: all 5 are resent.
    sc = Script().send(0, conn(V5, "shrink", prop_bytes=props(p_u32(SESSION_EXPIRY, 100), p_u16(RECEIVE_MAX, 5))),
                       sub(V5, 1, ("s", 1))).send(1, conn(V5, "shrink-pub"))
    sc.send(1, *[pub(V5, "s", b"%d" % i, qos=1, pid=i + 1) for i in range(6)]).close(0, outright=True)
    sc.send(0, conn(V5, "shrink", flags=0, prop_bytes=props(p_u32(SESSION_EXPIRY, 100), p_u16(RECEIVE_MAX, 2))))
    sc.send(0, puback(1, V5), puback(2, V5), bye5())
    out["resume-exceeds-receive-maximum"] = sc
    # SIGTERM while a CONNECT is being handed to its home worker ("h0" hashes to worker 1, the
    # client is on worker 0): the connection and its socket leak.
    # No memory for the hand-over's post: the connection is freed, then process() goes on using it.
    out["handover-oom-use-after-free"] = Script(workers=2).open(0, 0).run(budget=1).send(0, conn(V311, "h0"))
    # Memory for the post but not for the bytes that travel with it: memcpy(dst, NULL, 0) in
    # moted__conn_adopt, and the CONNECT is lost (the client waits for a CONNACK until it gives up).
    out["handover-oom-loses-connect"] = Script(workers=2).open(0, 0).run(budget=3) \
        .send(0, conn(V311, "h0", will=("w", b"x" * 200, 0, 0, None)))
    out["shutdown-leaks-handover"] = Script(workers=2).send(0, conn(V311, "h0"), hold=True).stop(mid_turn=True)
    # Packets other than PUBLISH are not held to the client's Maximum Packet Size.
    out["connack-over-maximum-packet-size"] = Script().send(0, conn(V5, "mps", prop_bytes=props(p_u32(MAX_PACKET, 8))))
    out["suback-over-maximum-packet-size"] = Script().send(
        0, conn(V5, "mps2", prop_bytes=props(p_u32(MAX_PACKET, 32))), sub(V5, 1, *[("t/%d" % i, 1) for i in range(40)]))
    # Unbounded recursion on the depth of a topic (65001 levels): ASan's stack overflows in match().
    deep = "/" * 65000
    out["deep-topic-recursion"] = Script().send(0, conn(V311, "deep"), sub(V311, 1, (deep, 0))) \
        .send(0, pub(V311, deep, b"x")).send(0, BYE)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "broker")
    os.makedirs(outdir, exist_ok=True)
    scripts = seeds()
    for name, sc in scripts.items():
        data = sc.bytes()
        assert len(data) <= 4096, (name, len(data))  # fuzz/run.sh's -max_len
        with open(os.path.join(outdir, name + ".bin"), "wb") as fp:
            fp.write(data)
    for name, sc in regressions().items():  # may exceed -max_len: libFuzzer truncates, replay not
        with open(os.path.join(outdir, "regress-" + name + ".bin"), "wb") as fp:
            fp.write(sc.bytes())
    print("broker: %d seeds, %d regressions" % (len(scripts), len(regressions())))


if __name__ == "__main__":
    main()
