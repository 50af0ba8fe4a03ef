"""moted's own record layer (broker/tls_record.c): after the handshake the keys leave OpenSSL and
moted seals and opens the records itself, for every AEAD suite in TLS 1.2 and 1.3. Each test
checks data both ways, in records of every size up to several 16 KB records per message, with
the real TLS stacks of Python (OpenSSL) and openssl s_client: a wrong key, nonce or sequence
number shows as a bad record MAC on one side or the other."""

import os
import ssl
import subprocess
import time

import certs
import mqtt_bytes as m
import tlsutil as t
from tlsutil import TLSBroker, keys

SIZES = (0, 1, 100, 16383, 16384, 16385, 70000, 300000)


def _echo(b, ctx, name):
    """Subscribe to our own topic and publish messages of every size: each must come back
    whole, in order (moted reads and writes several records per message)."""
    s = t.tls_client(b, name, ctx=ctx)
    s.sendall(m.subscribe(1, [("rec/" + name, 1)]))
    m.expect_packet(s, m.suback(1, [1]), "SUBACK")
    for i, size in enumerate(SIZES):
        payload = os.urandom(size)
        s.sendall(m.publish("rec/" + name, payload, qos=1, mid=10 + i))
        got = {}
        for _ in range(2):  # the PUBACK and the PUBLISH, in either order
            d = m.parse(m.recv_packet(s, 10))
            if d["type"] == "PUBACK":
                got["ack"] = d
            else:
                got["pub"] = d
        assert got.get("ack") and got["ack"]["mid"] == 10 + i, got.get("ack")
        assert got.get("pub") and got["pub"]["payload"] == payload, \
            "%s: %d bytes came back as %d" % (name, size, len(got.get("pub", {}).get("payload", b"")))
        s.sendall(m.puback(got["pub"]["mid"]))
    s.sendall(m.disconnect())
    return s


def _suite_ctx(version, ciphers=None):
    ctx = t.context(version=version)
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def _moted_records(b, pos):
    """Every connection since pos handed its records over to moted."""
    lines = t.lines_since(b, pos)
    assert not [l for l in lines if "stay with OpenSSL" in l], lines


def test_tls12_every_aead_suite():
    with TLSBroker(keys()) as b:
        pos = t.mark(b)
        for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                      "ECDHE-ECDSA-CHACHA20-POLY1305"):
            ctx = _suite_ctx(ssl.TLSVersion.TLSv1_2, suite)
            s = _echo(b, ctx, suite.lower().replace("-", ""))
            assert s.cipher()[0] == suite, s.cipher()
        _moted_records(b, pos)


def test_slow_reader_gets_every_record_whole():
    """A TLS subscriber that stops reading while 8 MB are published to it: moted's writes are
    cut by a full socket buffer, mid-record; when it reads again every message arrives whole
    and in order (a cut record is finished, never sealed twice)."""
    with TLSBroker(keys(), plain=True) as b:
        pos = t.mark(b)
        s = t.tls_client(b, "slow")
        s.sendall(m.subscribe(1, [("slow/x", 0)]))
        m.expect_packet(s, m.suback(1, [0]), "SUBACK")
        pub = t.raw_sock(b, port=b.plain_port)
        pub.sendall(m.connect("slowpub"))
        m.expect_connack(pub)
        payloads = [bytes([i]) * 100000 for i in range(80)]
        for p in payloads:
            pub.sendall(m.publish("slow/x", p))
        pub.sendall(m.pingreq())
        m.expect_packet(pub, m.pingresp(), "PINGRESP")
        time.sleep(0.5)
        for i, p in enumerate(payloads):
            d = m.parse(m.recv_packet(s, 20))
            assert d["payload"] == p, "message %d: %d bytes, starting %r" % (
                i, len(d["payload"]), d["payload"][:1])
        _moted_records(b, pos)


def test_tls13_every_suite():
    for suite in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                  "TLS_CHACHA20_POLY1305_SHA256"):
        # Python cannot choose TLS 1.3 suites: the server offers only this one.
        with TLSBroker(keys(**{"ciphers_tls1.3": suite})) as b:
            pos = t.mark(b)
            s = _echo(b, _suite_ctx(ssl.TLSVersion.TLSv1_3), suite.lower().replace("_", ""))
            assert s.cipher()[0] == suite, s.cipher()
            _moted_records(b, pos)


def test_cbc_suite_stays_with_openssl():
    """AES-CBC-SHA256 (for old stacks) is not an AEAD: OpenSSL keeps those connections, and the
    log says why."""
    with TLSBroker(keys()) as b:
        pos = t.mark(b)
        s = _echo(b, _suite_ctx(ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"), "cbc")
        assert s.cipher()[0] == "ECDHE-ECDSA-AES128-SHA256"
        t.wait_line(b, pos, "TLS records stay with OpenSSL", "AES-GCM or ChaCha20")


def test_resumed_connections_use_moted_records():
    """A resumed handshake (TLS 1.2 session id and ticket, TLS 1.3 ticket) hands over too, and
    what it resumes from was issued by a connection that handed over."""
    with TLSBroker(keys()) as b:
        for version, opts in ((ssl.TLSVersion.TLSv1_2, 0), (ssl.TLSVersion.TLSv1_2, ssl.OP_NO_TICKET),
                              (ssl.TLSVersion.TLSv1_3, 0)):
            ctx = _suite_ctx(version)
            ctx.options |= opts
            first = _echo(b, ctx, "first%d%d" % (version, opts))
            session = first.session
            first.close()
            time.sleep(0.05)
            s = t.tls_client(b, "again%d%d" % (version, opts), ctx=ctx, session=session)
            assert s.session_reused, (version, opts)
            s.sendall(m.subscribe(1, [("again", 0)]))
            m.expect_packet(s, m.suback(1, [0]), "SUBACK over a resumed connection")


def test_small_records_after_the_handshake():
    """max_fragment_length 512 (s_client -maxfraglen): moted's own records keep to it. A 2000
    byte message comes back in records of at most 512 bytes of content."""
    with TLSBroker(keys(), plain=True) as b:
        proxy = t.RecordProxy(b.tls_port)
        try:
            connect = m.connect("mfl", keepalive=5)
            sub = m.subscribe(1, [("mfl/x", 0)])
            cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % proxy.port, "-servername",
                   "localhost", "-CAfile", certs.path("ca.crt"), "-tls1_2", "-maxfraglen", "512",
                   "-quiet", "-no_ign_eof"]
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            p.stdin.write(connect + sub)
            p.stdin.flush()
            time.sleep(0.5)
            pub = t.raw_sock(b, port=b.plain_port)
            pub.sendall(m.connect("mflpub") + m.publish("mfl/x", b"y" * 2000))
            time.sleep(0.5)
            p.stdin.close()
            out = p.stdout.read()
            p.wait(5)
            assert b"y" * 2000 in out, "the 2000-byte message did not arrive whole"
            data = [r for r in proxy.records if r[2] and r[0] == 23]
            assert data and max(length for _, length, _ in data) <= 512 + 8 + 16, data
        finally:
            proxy.close()


def test_key_update_from_the_client():
    """TLS 1.3 KeyUpdate (s_client's K command: update requested): moted takes the client's new
    keys, sends its own KeyUpdate, changes its keys, and the connection goes on."""
    with TLSBroker(keys()) as b:
        pos = t.mark(b)
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % b.tls_port, "-servername",
               "localhost", "-CAfile", certs.path("ca.crt"), "-tls1_3"]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        for chunk in (m.connect("ku", keepalive=5), b"K\n", m.pingreq(), m.pingreq()):
            time.sleep(0.4)  # one read of s_client's per chunk: "K" alone is its command
            p.stdin.write(chunk)
            p.stdin.flush()
        time.sleep(0.4)
        p.stdin.close()
        p.wait(10)
        out, err = p.stdout.read(), p.stderr.read()
        assert b"KEYUPDATE" in out or b"KEYUPDATE" in err, "s_client did not send a KeyUpdate"
        assert m.connack() in out, out[-400:]
        assert out.count(b"\xd0\x00") == 2, "PINGRESPs after the KeyUpdate: %r" % out[-400:]
        assert "TLS records stay with OpenSSL" not in "\n".join(t.lines_since(b, pos))
