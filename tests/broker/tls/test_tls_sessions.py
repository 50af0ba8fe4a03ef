"""What keeps TLS cheap for small devices: session resumption (TLS 1.2 session ids and tickets,
TLS 1.3 tickets) and small records when the client asks for them (max_fragment_length, RFC 6066),
the certificate flight included."""

import re
import ssl
import subprocess
import threading
import time

import broker
import certs
import mqtt_bytes as m
import tlsutil as t
from tlsutil import TLSBroker, keys


def _resumption(version, name):
    with TLSBroker(keys()) as b:
        ctx = t.context(version=version)
        first = t.tls_client(b, "resume-1", ctx=ctx)  # the CONNACK brings any TLS 1.3 ticket along
        first.sendall(m.disconnect())
        session = first.session
        assert session is not None, "no session to resume"
        assert not first.session_reused
        second = t.tls_client(b, "resume-2", ctx=ctx, session=session)
        assert second.version() == name, second.version()
        assert second.session_reused, "%s: the second connection did not resume the first's session" % name
        t.wait_line(b, 0, "%s: TLS %s " % (t.peer_of(second), name), ", resumed")
        # And once more from the session of a resumed connection.
        third = t.tls_client(b, "resume-3", ctx=ctx, session=second.session)
        assert third.session_reused, "%s: a resumed session could not be resumed again" % name


def test_session_resumption_tls12():
    _resumption(ssl.TLSVersion.TLSv1_2, "TLSv1.2")


def test_session_resumption_tls13():
    _resumption(ssl.TLSVersion.TLSv1_3, "TLSv1.3")


class SClient:
    """openssl s_client through a RecordProxy, talking MQTT on its stdin and stdout."""

    def __init__(self, port, *args):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
               "-nocommands", "-CAfile", certs.path("ca.crt"), "-verify_return_error"] + list(args)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=broker._die_with_parent)
        self.out = b""
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            with self.lock:
                self.out += chunk

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait_for(self, data, timeout=t.WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if data in self.out:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("s_client: %r not seen; its output:\n%s" % (
            data[:40], self.out.decode("latin-1")[-1500:]))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        return self.out.decode("latin-1")


def _small_records(limit):
    payload = b"M" * 1500
    with TLSBroker(keys("server-rsa-chain.crt", "server-rsa.key"), plain=True) as b:
        # A retained message larger than the record size, for the data path.
        p = b.client("retainer")
        p.sendall(m.publish("big", payload, qos=1, mid=1, retain=True))
        m.expect_packet(p, m.puback(1), "PUBACK")
        proxy = t.RecordProxy(b.tls_port)
        sc = SClient(proxy.port, "-tls1_2", "-maxfraglen", str(limit))
        try:
            sc.send(m.connect("small-records") + m.subscribe(1, [("big", 0)]))
            sc.wait_for(payload)
        finally:
            out = sc.close()
            proxy.close()
        assert "Verify return code: 0 (ok)" in out, out[-1500:]
        cipher = re.search(r"Cipher is (\S+)", out).group(1)
        overhead = 24 if "GCM" in cipher else 16 if "CHACHA" in cipher else 64  # nonce, tag, MAC, padding
        certificate = [n for typ, n in proxy.handshake if typ == 11]
        assert certificate and certificate[0] > limit, \
            "the Certificate message (%s bytes) does not need small records" % certificate
        over = [(typ, n, enc) for typ, n, enc in proxy.records if n > limit + (overhead if enc else 0)]
        assert not over, "records over %d bytes (+%d when encrypted) from the server: %s; all: %s" % (
            limit, overhead, over, proxy.records)
        plain_hs = [n for typ, n, enc in proxy.records if typ == 22 and not enc]
        assert len(plain_hs) >= 4, "the handshake came in %d records: %s" % (len(plain_hs), proxy.records)
        data = [n for typ, n, enc in proxy.records if typ == 23]
        assert sum(data) > len(payload) and len(data) >= 1500 // limit + 1, \
            "the retained message came in records of %s bytes" % data
        t.wait_line(b, 0, "%s: TLS TLSv1.2 %s" % (proxy.upstream_peer, cipher), ", small records")


def test_max_fragment_length_512():
    _small_records(512)


def test_max_fragment_length_1024():
    _small_records(1024)
