"""SIGHUP reads certfile and keyfile again: connections made before keep going, new ones get the
new certificate, and a certificate that does not load changes nothing (the log says why)."""

import os
import shutil
import signal
import ssl

import certs
import mqtt_bytes as m
import tlsutil as t
from tlsutil import TLSBroker


def _listener(b):
    # Copies that the test replaces; cafile holds both CAs, so the log can name either.
    shutil.copy(certs.path("server.crt"), os.path.join(b.dir, "cert.pem"))
    shutil.copy(certs.path("server.key"), os.path.join(b.dir, "key.pem"))
    with open(os.path.join(b.dir, "cas.pem"), "w") as f:
        for name in ("ca.crt", "other-ca.crt"):
            with open(certs.path(name)) as ca:
                f.write(ca.read())
    return t.keys(os.path.join(b.dir, "cert.pem"), os.path.join(b.dir, "key.pem"), os.path.join(b.dir, "cas.pem"))


def _replace(b, cert, key):
    """Puts new files in place of cert.pem and key.pem: names of files from certs, or bytes."""
    for src, dst in ((cert, "cert.pem"), (key, "key.pem")):
        tmp = os.path.join(b.dir, dst + ".new")
        if isinstance(src, bytes):
            with open(tmp, "wb") as f:
                f.write(src)
        else:
            shutil.copy(certs.path(src), tmp)
        os.rename(tmp, os.path.join(b.dir, dst))


def _hup(b):
    pos = t.mark(b)
    b.proc.send_signal(signal.SIGHUP)
    t.wait_line(b, pos, "SIGHUP: ", "reloaded (limits and logging)")
    return pos


def test_sighup_reloads_certificate():
    with TLSBroker(_listener) as b:
        cert = os.path.join(b.dir, "cert.pem")
        old = t.tls_client(b, "established")
        old.sendall(m.subscribe(1, [("r/#", 1)]))
        m.expect_packet(old, m.suback(1, [1]), "SUBACK")

        _replace(b, "server-other.crt", "server-other.key")
        pos = _hup(b)
        t.wait_line(b, pos, "SIGHUP: TLS listener on port %d reloaded %s (ECDSA 256, chain %d bytes)" % (
            b.tls_port, cert, certs.der_size("server-other.crt")))

        # The established connection still works, both ways.
        old.sendall(m.publish("r/old", b"before the reload"))
        m.expect_publish(old, "r/old", b"before the reload")

        # A new client that trusts the new CA connects and reaches the old one.
        new = t.tls_client(b, "new-ca", ctx=t.context(ca="other-ca.crt"))
        new.sendall(m.publish("r/new", b"after the reload"))
        m.expect_publish(old, "r/new", b"after the reload")

        # One that trusts only the old CA is refused, and the log names the new CA.
        pos = t.mark(b)
        try:
            t.tls_sock(b, t.context(ca="ca.crt", version=ssl.TLSVersion.TLSv1_2))
            raise AssertionError("a client trusting the old CA accepted the new certificate")
        except ssl.SSLCertVerificationError:
            pass
        peer = t.only_peer(b, pos, b.tls_port)
        t.expect_line(b, pos, peer, "the client rejected our certificate (alert unknown CA)",
                      "CN=mote other CA", "SHA-256 " + certs.fingerprint("other-ca.crt"))


def test_sighup_with_broken_certificate_keeps_the_old_one():
    with TLSBroker(_listener) as b:
        cert = os.path.join(b.dir, "cert.pem")
        old = t.tls_client(b, "established")
        _replace(b, "server-other.crt", "server-other.key")
        _hup(b)
        t.tls_client(b, "new-ca-1", ctx=t.context(ca="other-ca.crt"))

        # Not a certificate at all.
        _replace(b, b"this is not a certificate\n", "server-other.key")
        pos = _hup(b)
        line = t.wait_line(b, pos, "SIGHUP: TLS listener on port %d keeps its certificate: certfile %s" % (
            b.tls_port, cert))
        assert "reloaded %s" % cert not in "\n".join(t.lines_since(b, pos)), t.lines_since(b, pos)
        print(line.split(": ", 1)[1])
        t.tls_client(b, "new-ca-2", ctx=t.context(ca="other-ca.crt"))

        old.sendall(m.pingreq())
        m.expect_packet(old, m.pingresp(), "PINGRESP on the connection made before the reloads")


def test_sighup_with_mismatched_key_keeps_the_old_one():
    with TLSBroker(_listener) as b:
        cert, key = os.path.join(b.dir, "cert.pem"), os.path.join(b.dir, "key.pem")
        _replace(b, "server.crt", "server-other.key")  # a certificate with somebody else's key
        pos = _hup(b)
        t.wait_line(b, pos, "SIGHUP: TLS listener on port %d keeps its certificate" % b.tls_port,
                    "keyfile %s does not belong to certfile %s" % (key, cert))
        t.tls_client(b, "still-old-ca", ctx=t.context(ca="ca.crt"))
