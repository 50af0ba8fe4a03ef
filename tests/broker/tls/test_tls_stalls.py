"""Slow, stalled and malformed TLS clients: each is dropped alone (handshake_timeout, or at the
first bad byte) with one log line, while the other clients go on without a pause."""

import os
import ssl
import time

import mqtt_bytes as m
import tlsutil as t
from tlsutil import TLSBroker, keys

TIMEOUT_1S = "handshake_timeout 1\n"


def _half_hello():
    """The first half of a real ClientHello."""
    out = ssl.MemoryBIO()
    obj = t.context().wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()
    return data[:len(data) // 2]


def _connect_and_talk(b, cid):
    """A full TLS handshake, CONNECT/CONNACK, SUBSCRIBE and a message to itself; returns the
    seconds taken."""
    start = time.monotonic()
    s = t.tls_client(b, cid)
    s.sendall(m.subscribe(1, [("talk/" + cid, 0)]))
    m.expect_packet(s, m.suback(1, [0]), "SUBACK")
    s.sendall(m.publish("talk/" + cid, b"hello"))
    m.expect_publish(s, "talk/" + cid, b"hello")
    return time.monotonic() - start


def test_stalled_handshake_is_dropped_after_handshake_timeout():
    with TLSBroker(keys(), extra=TIMEOUT_1S) as b:
        beat = t.Heartbeat(b)
        pos = t.mark(b)
        stalled = t.raw_sock(b)
        stalled.sendall(_half_hello())
        silent = t.raw_sock(b)  # connects and sends nothing at all
        start = time.monotonic()
        took = _connect_and_talk(b, "meanwhile")
        assert took < 1.0, "a normal client took %.2f s while another stalled" % took
        t.wait_closed(stalled, timeout=5)
        elapsed = time.monotonic() - start
        assert 0.8 <= elapsed <= 2.5, "stalled handshake dropped after %.2f s, handshake_timeout is 1 s" % elapsed
        t.wait_closed(silent, timeout=3)
        for s in (stalled, silent):
            t.expect_line(b, pos, t.peer_of(s), "TLS handshake not finished within 1 s (handshake_timeout): dropped",
                          "a stalled client, or one too slow for its key exchange")
        gap, beats = beat.stop()
        assert gap < 1.0, "the heartbeat client waited %.2f s for a PUBACK" % gap


def test_fifty_stalled_handshakes_do_not_stall_others():
    with TLSBroker(keys(), extra=TIMEOUT_1S) as b:
        beat = t.Heartbeat(b)
        pos = t.mark(b)
        half = _half_hello()
        stalled = []
        for _ in range(50):
            s = t.raw_sock(b)
            s.sendall(half)
            stalled.append(s)
        took = _connect_and_talk(b, "one-of-many")
        print("a normal client behind 50 stalled handshakes: %.3f s" % took)
        assert took < 1.0, "a normal client took %.2f s behind 50 stalled handshakes" % took
        for s in stalled:
            t.wait_closed(s, timeout=4)
        peers = [t.peer_of(s) for s in stalled]
        t.expect_lines(b, pos, peers, "TLS handshake not finished within 1 s (handshake_timeout)")
        gap, beats = beat.stop()
        print("heartbeat: %d PUBACKs, longest wait %.3f s" % (beats, gap))
        assert gap < 1.0, "the heartbeat client waited %.2f s for a PUBACK" % gap


def test_malformed_tls_input_closes_only_that_connection():
    with TLSBroker(keys(), extra=TIMEOUT_1S) as b:
        beat = t.Heartbeat(b)
        bystander = t.tls_client(b, "bystander")
        bystander.sendall(m.subscribe(1, [("bystander", 0)]))
        m.expect_packet(bystander, m.suback(1, [0]), "SUBACK")
        cases = [
            ("random bytes in a handshake record", b"\x16\x03\x01\x00\x40" + os.urandom(64), 3,
             ("TLS handshake failed",)),
            ("a truncated ClientHello", _half_hello(), 3,
             ("TLS handshake not finished within 1 s",)),
            ("a 64 KB garbage record", b"\x16\x03\x01\xff\xff" + os.urandom(65535), 3,
             ("TLS handshake failed",)),
            ("a record of an unknown type", b"\x16\x03\x01\x00\x05\x63\x00\x00\x01\x00" + os.urandom(200), 3,
             ("TLS handshake failed",)),
        ]
        for what, data, limit, words in cases:
            pos = t.mark(b)
            s = t.raw_sock(b)
            m.send(s, data)
            try:
                t.wait_closed(s, timeout=limit)
            except AssertionError:
                raise AssertionError("%s: the connection is still open after %d s" % (what, limit)) from None
            line = t.expect_line(b, pos, t.peer_of(s), *words)
            print("%s -> %s" % (what, line.split(": ", 1)[1]))
        # Garbage after a completed handshake: the record does not decrypt.
        pos = t.mark(b)
        hs = t.MemoryHandshake(b)
        hs.sock.sendall(hs.hello())
        hs.flight()
        hs.sock.sendall(hs.step())
        assert hs.done, "the handshake did not complete"
        hs.sock.sendall(b"\x17\x03\x03\x00\x30" + os.urandom(0x30))
        t.wait_closed(hs.sock, timeout=3)
        # Everyone else is still there.
        gap, beats = beat.stop()
        assert gap < 1.0, "the heartbeat client waited %.2f s for a PUBACK" % gap
        assert beats > 10, "only %d PUBACKs while the malformed clients came and went" % beats
        bystander.sendall(m.publish("bystander", b"still here"))
        m.expect_publish(bystander, "bystander", b"still here")


def test_garbage_after_the_handshake_is_explained():
    # Records that do not decrypt are the broker's decision to close, not the client's: the
    # log line must say so, before CONNECT and after it.
    with TLSBroker(keys()) as b:
        pos = t.mark(b)
        hs = t.MemoryHandshake(b)
        hs.sock.sendall(hs.hello())
        hs.flight()
        hs.sock.sendall(hs.step())
        assert hs.done, "the handshake did not complete"
        hs.sock.sendall(b"\x17\x03\x03\x00\x30" + os.urandom(0x30))
        t.wait_closed(hs.sock, timeout=3)
        t.expect_line(b, pos, hs.peer, "TLS", "bad record mac", anywhere=True)

        s = t.tls_client(b, "victim")
        pos = t.mark(b)
        os.write(s.fileno(), b"\x17\x03\x03\x00\x30" + os.urandom(0x30))  # under TLS, not through it
        t.wait_closed(s, timeout=3)
        t.expect_line(b, pos, t.peer_of(s), "client victim", "TLS", "bad record mac", anywhere=True)
