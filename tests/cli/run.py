#!/usr/bin/python3
"""tests/cli/run.py - `mote pub`, `mote sub` and `mote doctor` against live brokers: moted and
Debian's mosquitto, started here on 127.0.0.1 and free ports, plain and TLS, MQTT 3.1.1 and 5.0.
The doctor is run against each case of the founding story (a good TLS setup, a wrong CA, too
little RAM, a cipher suite or TLS version the device lacks, an expired certificate, a plaintext
port given as TLS, ...) and its verdict is checked.

    run.py [-k PATTERN ...] [-v]

Environment: MOTE (default build/cli/mote), MOTED (build/broker/moted), MOSQUITTO
(/usr/sbin/mosquitto; its tests are skipped, and counted as failed, when it is missing).
Certificates are made at test time with `mote certs` and the openssl command. Every wait is
bounded. The last line is "N passed, N failed"; exit status 1 if any test failed.
"""

import argparse
import base64
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MOTE = os.path.abspath(os.environ.get("MOTE", os.path.join(ROOT, "build", "cli", "mote")))
MOTED = os.path.abspath(os.environ.get("MOTED", os.path.join(ROOT, "build", "broker", "moted")))
MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
RUN_TIMEOUT = 30  # seconds for one command of a test
START_TIMEOUT = 10

# mote is built with AddressSanitizer in test builds: a leak is a failure.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1")


def die_with_parent():
    """preexec_fn: SIGKILL the child when this runner dies, whatever the cause."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*cmd, input=None, timeout=RUN_TIMEOUT, cwd=None):
    """Runs a command; returns (status, stdout bytes, stderr text)."""
    p = subprocess.run(list(cmd), input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, cwd=cwd, preexec_fn=die_with_parent)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def mote(*args, input=None, timeout=RUN_TIMEOUT):
    return run(MOTE, *[str(a) for a in args], input=input, timeout=timeout)


class Failed(Exception):
    pass


def check(cond, what, detail=""):
    if not cond:
        raise Failed(what + ("\n" + detail if detail else ""))


# ---------------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------------

class Certs:
    """Every certificate the tests use, made in one temporary directory."""

    def __init__(self, work):
        self.dir = os.path.join(work, "certs")
        os.mkdir(self.dir)
        d = self.dir
        # The good setup: `mote certs init` (ECDSA P-256), a device certificate for mutual TLS.
        self._mote("certs", "init", "--dir", "good", "--host", "localhost")
        self._mote("certs", "device", "dev1", "--dir", "good")
        # RSA 2048, for a chain of another size and key type.
        self._mote("certs", "init", "--dir", "rsa", "--host", "localhost", "--rsa", "2048")
        # The same CA name made again with a new key (same host, same day): not the same CA.
        self._mote("certs", "init", "--dir", "remade", "--host", "localhost")
        self.good_ca = os.path.join(d, "good", "ca.crt")
        self.good_cert = os.path.join(d, "good", "server.crt")
        self.good_key = os.path.join(d, "good", "server.key")
        self.dev_cert = os.path.join(d, "good", "devices", "dev1.crt")
        self.dev_key = os.path.join(d, "good", "devices", "dev1.key")
        self.rsa_ca = os.path.join(d, "rsa", "ca.crt")
        self.rsa_cert = os.path.join(d, "rsa", "server.crt")
        self.rsa_key = os.path.join(d, "rsa", "server.key")
        self.remade_ca = os.path.join(d, "remade", "ca.crt")
        # A CA under another name, which signed nothing the brokers show.
        self.wrong_ca = os.path.join(d, "wrong-ca.crt")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", os.path.join(d, "wrong-ca.key"), "-out", self.wrong_ca,
                      "-days", "30", "-subj", "/CN=Wrong Test CA")
        self.good_ca_cn = self._cn(self.good_ca)
        # Leaves from the good CA: one expired (2020-01-01 .. 2021-01-01), one for another name.
        self.expired_cert, self.expired_key = self._leaf(
            "expired", "DNS:localhost,IP:127.0.0.1", dates=("20200101000000Z", "20210101000000Z"))
        self.other_cert, self.other_key = self._leaf("otherhost", "DNS:other.example")

    def _mote(self, *args):
        status, out, err = run(MOTE, *args, cwd=self.dir)
        if status != 0:
            raise RuntimeError("mote %s: %s %s" % (" ".join(args), out.decode(), err))

    def _openssl(self, *args):
        status, out, err = run("openssl", *args, cwd=self.dir)
        if status != 0:
            raise RuntimeError("openssl %s: %s" % (" ".join(args), err))

    def _cn(self, path):
        status, out, err = run("openssl", "x509", "-in", path, "-noout", "-subject",
                               "-nameopt", "multiline")
        for line in out.decode().splitlines():
            if "commonName" in line:
                return line.split("=", 1)[1].strip()
        raise RuntimeError("no CN in " + path)

    def _leaf(self, name, san, dates=None):
        d = self.dir
        key, csr, crt = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".crt"))
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=%s\n" % san)
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=%s" % name)
        if dates is None:
            self._openssl("x509", "-req", "-in", csr, "-CA", self.good_ca, "-CAkey",
                          os.path.join(d, "good", "ca.key"), "-CAcreateserial", "-out", crt,
                          "-days", "30", "-sha256", "-extfile", ext)
            return crt, key
        # `openssl ca` is the one that takes explicit dates.
        db = os.path.join(d, "ca-db-" + name)
        os.mkdir(db)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("1000\n")
        cnf = os.path.join(db, "ca.cnf")
        with open(cnf, "w") as f:
            f.write("[ca]\ndefault_ca = dated\n[dated]\ndatabase = %s/index.txt\n"
                    "serial = %s/serial\nnew_certs_dir = %s\ndefault_md = sha256\n"
                    "policy = any\nunique_subject = no\n[any]\ncommonName = supplied\n"
                    % (db, db, db))
        self._openssl("ca", "-batch", "-config", cnf, "-cert", self.good_ca, "-keyfile",
                      os.path.join(d, "good", "ca.key"), "-in", csr, "-out", crt,
                      "-startdate", dates[0], "-enddate", dates[1], "-extfile", ext, "-notext")
        return crt, key


# ---------------------------------------------------------------------------------------------
# Brokers
# ---------------------------------------------------------------------------------------------

class Broker:
    """moted or mosquitto with named listeners, each on a free port of 127.0.0.1.

    conf is a Mosquitto configuration in which {NAME} stands for the port of listener NAME.
    """

    def __init__(self, key, kind, work, conf, names):
        self.key = key  # its name in the tests' environment
        self.kind = kind
        self.path = MOTED if kind == "moted" else MOSQUITTO
        self.dir = tempfile.mkdtemp(prefix="broker-%s-" % kind, dir=work)
        self.conf_text = conf
        self.names = names
        self.ports = {}
        self.proc = None
        self.log_path = os.path.join(self.dir, "broker.log")

    def start(self):
        for _ in range(3):  # a port found free may be taken before the broker binds it
            self.ports = {n: free_port() for n in self.names}
            conf = os.path.join(self.dir, "broker.conf")
            with open(conf, "w") as f:
                f.write(self.conf_text.format(**self.ports))
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen([self.path, "-c", conf], stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             preexec_fn=die_with_parent)
            deadline = time.monotonic() + START_TIMEOUT
            waiting = set(self.names)
            while waiting and time.monotonic() < deadline and self.proc.poll() is None:
                for n in list(waiting):
                    try:
                        with socket.create_connection(("127.0.0.1", self.ports[n]), timeout=0.5):
                            waiting.discard(n)
                    except OSError:
                        pass
                if waiting:
                    time.sleep(0.05)
            if not waiting:
                return self
            self.stop()
        raise RuntimeError("%s did not start: %s" % (self.path, self.log_tail()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_tail(self, n=10):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def port(self, name):
        return self.ports[name]


def moted_conf(c, work):
    passwd = os.path.join(work, "passwd")
    status, out, err = mote("passwd", "-c", "-b", passwd, "device", "s3cret")
    if status != 0:
        raise RuntimeError("mote passwd: " + err)
    tls = "certfile {}\nkeyfile {}\n".format(c.good_cert, c.good_key)
    return ("allow_anonymous true\n"
            "listener {plain} 127.0.0.1\n"
            "listener {tls} 127.0.0.1\n" + tls +
            "listener {rsa} 127.0.0.1\ncertfile %s\nkeyfile %s\n" % (c.rsa_cert, c.rsa_key) +
            "listener {cipher} 127.0.0.1\n" + tls + "ciphers ECDHE-ECDSA-AES128-SHA\n"
            "listener {tls13} 127.0.0.1\n" + tls + "tls_version tlsv1.3\n"
            "listener {expired} 127.0.0.1\ncertfile %s\nkeyfile %s\n" % (c.expired_cert,
                                                                        c.expired_key) +
            "listener {otherhost} 127.0.0.1\ncertfile %s\nkeyfile %s\n" % (c.other_cert,
                                                                          c.other_key)), \
        ["plain", "tls", "rsa", "cipher", "tls13", "expired", "otherhost"]


def moted_auth_conf(work):
    return ("allow_anonymous false\npassword_file %s\n" % os.path.join(work, "passwd") +
            "listener {plain} 127.0.0.1\n"), ["plain"]


def mosquitto_conf(c):
    # Started as root, mosquitto becomes user mosquitto, who cannot read our 0600 keys.
    user = "user root\n" if os.geteuid() == 0 else ""
    tls = "certfile {}\nkeyfile {}\nallow_anonymous true\n".format(c.good_cert, c.good_key)
    return (user + "per_listener_settings true\nlog_dest stderr\npersistence false\n"
            "listener {plain} 127.0.0.1\nallow_anonymous true\n"
            "listener {tls} 127.0.0.1\n" + tls +
            "listener {mtls} 127.0.0.1\n" + tls +
            "cafile %s\nrequire_certificate true\nuse_identity_as_username true\n" % c.good_ca +
            "listener {cipher} 127.0.0.1\n" + tls + "ciphers ECDHE-RSA-AES256-SHA384\n"
            "listener {tls13} 127.0.0.1\n" + tls + "tls_version tlsv1.3\n"), \
        ["plain", "tls", "mtls", "cipher", "tls13"]


class NoMflProxy:
    """tests/cli/nomfl_proxy.c, compiled here: TLS in front of a plain listener, ignoring
    max_fragment_length."""

    def __init__(self, work, cert, key, upstream):
        exe = os.path.join(work, "nomfl_proxy")
        status, out, err = run(os.environ.get("CC", "cc"), "-O1", "-o", exe,
                               os.path.join(HERE, "nomfl_proxy.c"), "-lbearssl")
        if status != 0:
            raise RuntimeError("cannot build nomfl_proxy.c (libbearssl-dev): " + err)
        self.proc = subprocess.Popen([exe, cert, key, str(upstream)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        self.port = int(self.proc.stdout.readline() or 0)
        if not self.port:
            raise RuntimeError("nomfl_proxy did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait(5)


# ---------------------------------------------------------------------------------------------
# A subscriber in the background
# ---------------------------------------------------------------------------------------------

class Sub:
    """`mote sub -d ...`, ready once its SUBACK is in (the -d line "subscription 1: ...")."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([MOTE, "sub", "-d"] + [str(a) for a in args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        self.err_lines = []
        self.subscribed = threading.Event()
        self.out = b""
        self.reader = threading.Thread(target=self._read_err, daemon=True)
        self.reader.start()
        self.out_reader = threading.Thread(target=self._read_out, daemon=True)
        self.out_reader.start()

    def _read_err(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.err_lines.append(line)
            if "subscription 1:" in line:
                self.subscribed.set()
        self.subscribed.set()  # it ended: do not wait any longer

    def _read_out(self):
        self.out = self.proc.stdout.read()

    def ready(self, timeout=10):
        self.subscribed.wait(timeout)
        check(self.proc.poll() is None, "mote sub ended before subscribing", self.err())

    def wait(self, timeout=20):
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            status = "killed after %d s" % timeout
        self.reader.join(5)
        self.out_reader.join(5)
        return status, self.out, self.err()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)

    def err(self):
        return "\n".join(l for l in self.err_lines
                         if not l.startswith("mote sub: sent ") and
                         not l.startswith("mote sub: received "))


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

TESTS = []


def test(name, needs=()):
    def register(fn):
        TESTS.append((name, fn, needs))
        return fn
    return register


def topic():
    return "test/cli/" + uuid.uuid4().hex[:12]


def conn(env, broker, listener, tls=False, version=None):
    args = ["-h", "localhost", "-p", env[broker].port(listener)]
    if tls:
        args += ["--cafile", env["certs"].good_ca]
    if version:
        args += ["-V", version]
    return args


def roundtrip(env, broker, listener, tls, version, qos):
    t = topic()
    c = conn(env, broker, listener, tls, version)
    sub = Sub(*c, "-t", t, "-q", qos, "-C", 1, "-W", 15)
    try:
        sub.ready()
        status, out, err = mote("pub", *c, "-t", t, "-m", "hello %s" % t, "-q", qos)
        check(status == 0, "mote pub exited with %s" % status, err)
        status, out, err = sub.wait()
        check(status == 0, "mote sub exited with %s" % status, err)
        check(out == ("hello %s\n" % t).encode(), "mote sub printed %r" % out, err)
    finally:
        sub.kill()


for _broker in ("moted", "mosquitto"):
    for _tls in (False, True):
        for _version, _qos in (("311", 0), ("311", 1), ("5", 2), ("5", 0)):
            def _make(broker=_broker, tls=_tls, version=_version, qos=_qos):
                return lambda env: roundtrip(env, broker, "tls" if tls else "plain", tls,
                                             version, qos)
            test("pub/sub %s %s MQTT %s QoS %d" % (_broker, "TLS" if _tls else "plain",
                                                   _version, _qos), needs=(_broker,))(_make())


@test("sub -v prints TOPIC PAYLOAD; -C 3 stops after three", needs=("moted",))
def _(env):
    t = topic()
    c = conn(env, "moted", "plain")
    sub = Sub(*c, "-t", t + "/#", "-v", "-C", 3, "-W", 15, "-q", 1)
    try:
        sub.ready()
        for i in range(4):
            status, _, err = mote("pub", *c, "-t", "%s/%d" % (t, i), "-m", "m%d" % i, "-q", 1)
            check(status == 0, "mote pub %d exited with %s" % (i, status), err)
        status, out, err = sub.wait()
        check(status == 0, "mote sub exited with %s" % status, err)
        want = "".join("%s/%d m%d\n" % (t, i, i) for i in range(3)).encode()
        check(out == want, "mote sub printed %r, not %r" % (out, want), err)
    finally:
        sub.kill()


@test("sub -W 1 with no message: status 1, 'timed out', within 3 s", needs=("moted",))
def _(env):
    start = time.monotonic()
    status, out, err = mote("sub", *conn(env, "moted", "plain"), "-t", topic(), "-W", 1)
    took = time.monotonic() - start
    check(status == 1 and "timed out" in err, "status %s, stderr %r" % (status, err))
    check(out == b"", "printed %r" % out)
    check(0.9 <= took < 3, "took %.2f s" % took)


@test("sub --json: UTF-8 payload, base64 for binary, MQTT 5 user properties (mosquitto TLS)",
      needs=("mosquitto",))
def _(env):
    t = topic()
    c = conn(env, "mosquitto", "tls", True, "5")
    binary = os.path.join(env["work"], "binary.bin")
    with open(binary, "wb") as f:
        f.write(bytes(range(256)))
    sub = Sub(*c, "-t", t + "/#", "--json", "-C", 2, "-W", 15, "-q", 1)
    try:
        sub.ready()
        status, _, err = mote("pub", *c, "-t", t + "/text", "-m", "h\u00e9llo \u2603 \"q\"",
                              "-q", 1, "-D", "publish", "user-property", "k1", "v1", "-D",
                              "publish", "user-property", "k2", "v 2")
        check(status == 0, "mote pub (text) exited with %s" % status, err)
        status, _, err = mote("pub", *c, "-t", t + "/bin", "-f", binary, "-q", 1)
        check(status == 0, "mote pub -f exited with %s" % status, err)
        status, out, err = sub.wait()
        check(status == 0, "mote sub exited with %s" % status, err)
        lines = out.decode().splitlines()
        check(len(lines) == 2, "%d lines: %r" % (len(lines), out))
        a, b = (json.loads(l) for l in lines)
        check(a == {"topic": t + "/text", "qos": 1, "retain": False,
                    "payload": "h\u00e9llo \u2603 \"q\"",
                    "user_properties": [["k1", "v1"], ["k2", "v 2"]]}, "first: %r" % a)
        check(b["topic"] == t + "/bin" and "payload" not in b and
              base64.b64decode(b["payload_base64"]) == bytes(range(256)), "second: %r" % b)
    finally:
        sub.kill()


@test("retained: -r is kept, --json says retain, -R skips it, -n -r clears it", needs=("moted",))
def _(env):
    t = topic()
    c = conn(env, "moted", "tls", True)
    status, _, err = mote("pub", *c, "-t", t, "-m", "kept", "-r", "-q", 1)
    check(status == 0, "mote pub -r exited with %s" % status, err)
    status, out, err = mote("sub", *c, "-t", t, "--json", "-C", 1, "-W", 10)
    check(status == 0 and json.loads(out) == {"topic": t, "qos": 0, "retain": True,
                                              "payload": "kept"}, "sub: %s %r" % (status, out), err)
    status, out, err = mote("sub", *c, "-t", t, "-R", "-W", 1)
    check(status == 1 and out == b"", "sub -R printed %r" % out, err)
    status, _, err = mote("pub", *c, "-t", t, "-n", "-r")
    check(status == 0, "mote pub -n -r exited with %s" % status, err)
    status, out, err = mote("sub", *c, "-t", t, "-W", 1)
    check(out == b"", "the retained message is still there: %r" % out)


def will_test(env, broker):
    t = topic()
    c = conn(env, broker, "plain")
    watcher = Sub(*c, "-t", t, "-C", 1, "-W", 15, "-v")
    dying = None
    try:
        watcher.ready()
        dying = Sub(*c, "-t", topic(), "-k", 2, "--will-topic", t, "--will-payload", "gone",
                    "--will-qos", 1)
        dying.ready()
        dying.kill()  # SIGKILL: no DISCONNECT, so the broker publishes the will
        status, out, err = watcher.wait()
        check(status == 0 and out == ("%s gone\n" % t).encode(),
              "watcher: %s %r" % (status, out), err)
    finally:
        watcher.kill()
        if dying:
            dying.kill()


@test("will: published when the client dies (moted)", needs=("moted",))
def _(env):
    will_test(env, "moted")


@test("will: published when the client dies (mosquitto)", needs=("mosquitto",))
def _(env):
    will_test(env, "mosquitto")


@test("no will on a clean exit: DISCONNECT discards it", needs=("moted",))
def _(env):
    t = topic()
    c = conn(env, "moted", "plain")
    watcher = Sub(*c, "-t", t, "-W", 2)
    try:
        watcher.ready()
        status, _, err = mote("pub", *c, "-t", topic(), "-m", "x", "--will-topic", t,
                              "--will-payload", "gone")
        check(status == 0, "mote pub exited with %s" % status, err)
        status, out, err = watcher.wait()
        check(out == b"", "the will was published: %r" % out)
    finally:
        watcher.kill()


@test("-c -i: a persistent session keeps a QoS 1 message sent while away (moted)",
      needs=("moted",))
def _(env):
    t = topic()
    c = conn(env, "moted", "plain")
    cid = "mote-test-" + uuid.uuid4().hex[:8]
    status, _, err = mote("sub", *c, "-c", "-i", cid, "-t", t, "-q", 1, "-W", 1)
    check(status == 1 and "timed out" in err, "first sub: %s %r" % (status, err))
    status, _, err = mote("pub", *c, "-t", t, "-m", "while away", "-q", 1)
    check(status == 0, "mote pub exited with %s" % status, err)
    status, out, err = mote("sub", *c, "-c", "-i", cid, "-t", t, "-q", 1, "-C", 1, "-W", 10)
    check(status == 0 and out == b"while away\n", "second sub: %s %r" % (status, out), err)


@test("pub -s reads standard input; a 100 KB message through TLS (mosquitto)",
      needs=("mosquitto",))
def _(env):
    t = topic()
    c = conn(env, "mosquitto", "tls", True)
    big = os.urandom(50 * 1024).hex().encode()
    sub = Sub(*c, "-t", t, "-C", 1, "-W", 15, "-N")
    try:
        sub.ready()
        status, _, err = mote("pub", *c, "-t", t, "-s", "-q", 1, input=big)
        check(status == 0, "mote pub -s exited with %s" % status, err)
        status, out, err = sub.wait()
        check(status == 0 and out == big, "received %d bytes, sent %d" % (len(out), len(big)), err)
    finally:
        sub.kill()


@test("-L mqtt://USER:PASSWORD@HOST:PORT/TOPIC against a password file (moted)",
      needs=("moted_auth",))
def _(env):
    t = topic()
    port = env["moted_auth"].port("plain")
    sub = Sub("-L", "mqtt://device:s3cret@localhost:%d/%s" % (port, t), "-C", 1, "-W", 15)
    try:
        sub.ready()
        status, _, err = mote("pub", "-L", "mqtt://localhost:%d/%s" % (port, t), "-u", "device",
                              "-P", "s3cret", "-m", "in", "-q", 1)
        check(status == 0, "mote pub exited with %s" % status, err)
        status, out, err = sub.wait()
        check(status == 0 and out == b"in\n", "sub: %s %r" % (status, out), err)
    finally:
        sub.kill()


@test("a wrong password: status 1 and the library's explanation", needs=("moted_auth",))
def _(env):
    port = env["moted_auth"].port("plain")
    status, _, err = mote("pub", "-p", port, "-u", "device", "-P", "wrong", "-t", "x", "-m", "y")
    check(status == 1, "status %s" % status, err)
    check("mqtt: the broker refused the connection" in err and "user name" in err,
          "stderr: %r" % err)


@test("TLS with the wrong CA: status 1, 'not trusted' and both names", needs=("moted",))
def _(env):
    c = conn(env, "moted", "tls")
    status, _, err = mote("pub", *c, "--cafile", env["certs"].wrong_ca, "-t", "x", "-m", "y")
    check(status == 1, "status %s" % status, err)
    check("tls: the broker's certificate chain is not trusted" in err and
          env["certs"].good_ca_cn in err, "stderr: %r" % err)


@test("--insecure: connects whatever the CA, and warns", needs=("moted",))
def _(env):
    c = conn(env, "moted", "tls")
    status, _, err = mote("pub", *c, "--insecure", "-t", "x", "-m", "y", "-q", 1)
    check(status == 0, "status %s" % status, err)
    check("warning: --insecure" in err, "no warning: %r" % err)


@test("mutual TLS (mosquitto): --cert/--key connect; without them the alert is explained",
      needs=("mosquitto",))
def _(env):
    c = conn(env, "mosquitto", "mtls", True)
    certs = env["certs"]
    status, _, err = mote("pub", *c, "--cert", certs.dev_cert, "--key", certs.dev_key, "-t", "x",
                          "-m", "y", "-q", 1)
    check(status == 0, "with a certificate: status %s" % status, err)
    status, _, err = mote("pub", *c, "-t", "x", "-m", "y")
    check(status == 1 and "client certificate" in err, "without: %s %r" % (status, err))


@test("-d names each packet; connection refused is explained", needs=("moted",))
def _(env):
    status, _, err = mote("pub", *conn(env, "moted", "plain"), "-t", "x", "-m", "y", "-d")
    check(status == 0 and "sent CONNECT" in err and "received CONNACK" in err and
          "sent PUBLISH" in err, "stderr: %r" % err)
    status, _, err = mote("pub", "-p", free_port(), "-t", "x", "-m", "y")
    check(status == 1 and "tcp: connection refused" in err, "refused: %s %r" % (status, err))


@test("usage errors: status 2 and one line")
def _(env):
    for args in (["pub", "-t", "x"], ["pub", "-m", "x"], ["pub", "-t", "a/#", "-m", "x"],
                 ["pub", "-t", "x", "-m", "y", "-q", "3"], ["sub"], ["sub", "-t", "a/#/b"],
                 ["pub", "-t", "x", "-m", "y", "-D", "publish", "user-property", "k", "v"],
                 ["pub", "-L", "http://x/y", "-m", "y"], ["doctor"], ["doctor", "mqtts://h",
                                                                      "--ram", "lots"],
                 ["sub", "-t", "x", "--cert", "c.pem"], ["pub", "-t", "x", "-m", "y", "-f", "z"]):
        status, out, err = mote(*args)
        check(status == 2 and len(err.strip().splitlines()) == 1,
              "mote %s: status %s, stderr %r" % (" ".join(args), status, err))
    for cmd in ("pub", "sub", "doctor"):
        status, out, err = mote(cmd, "--help")
        check(status == 0 and out.startswith(b"Usage: mote " + cmd.encode()),
              "mote %s --help: %s %r" % (cmd, status, out[:80]))


# ---------------------------------------------------------------------------------------------
# mote doctor
# ---------------------------------------------------------------------------------------------

def doctor(env, url, *args, want_status=None):
    """Runs the doctor twice (text and --json); returns (json report, text report)."""
    status, out, err = mote("doctor", url, *args, "--json", "-W", 5)
    check(err == "", "stderr: %r" % err)
    try:
        report = json.loads(out)
    except ValueError as e:
        raise Failed("--json is not JSON (%s): %r" % (e, out[:400]))
    text_status, text, err = mote("doctor", url, *args, "-W", 5)
    text = text.decode()
    check(text_status == status, "text: status %s, --json: %s" % (text_status, status))
    v = report["verdict"]
    check(status == (0 if v["ok"] else 1), "status %s for verdict %r" % (status, v))
    check(("\nverdict: " + v["text"] + "\n") in text, "the text report ends otherwise:\n" + text)
    if want_status is not None:
        check(status == want_status, "status %s, verdict: %s" % (status, v["text"]), text)
    return report, text


def url(env, broker, listener, scheme="mqtts"):
    return "%s://localhost:%d" % (scheme, env[broker].port(listener))


def good_doctor(env, broker, listener="tls", ca=None, key="EC P-256"):
    r, text = doctor(env, url(env, broker, listener), "--cafile", ca or env["certs"].good_ca,
                     want_status=0)
    v = r["verdict"]["text"]
    check(v.startswith("a device with 20 KB free will connect"), "verdict: " + v)
    check(r["tls_handshake"]["ok"] and r["tls_handshake"]["version"] == "TLS 1.2", repr(r))
    check(r["max_fragment_length"]["512"] is True, "MFL 512 not honoured: %r" %
          r["max_fragment_length"])
    check(r["resumption"]["resumed"] is True, "no resumption: %r" % r["resumption"])
    check(r["ram"]["record_size"] == 512 and r["ram"]["record_buffer"] == 837 and
          r["ram"]["total"] == r["ram"]["tls_state"] + 837, "RAM: %r" % r["ram"])
    chain = r["chain"]
    check("OpenSSL" in chain["source"] and chain["certificates"][0]["key"] == key and
          chain["bytes"] > 300, "chain: %r" % chain)
    check(r["mqtt"]["connect"]["ok"] and r["mqtt"]["round_trip"]["ok"], "MQTT: %r" % r["mqtt"])
    for label in ("name resolution", "TCP", "TLS handshake", "max_fragment_len", "resumption",
                  "certificate chain", "device RAM", "MQTT CONNECT", "round trip"):
        check(label in text, "no '%s' line:\n%s" % (label, text))
    return r


@test("doctor: moted, ECDSA from mote certs init: will connect", needs=("moted",))
def _(env):
    good_doctor(env, "moted")


@test("doctor: mosquitto, the same certificates: will connect", needs=("mosquitto",))
def _(env):
    good_doctor(env, "mosquitto")


@test("doctor: moted, RSA 2048 (mote certs init --rsa): will connect, key RSA 2048",
      needs=("moted",))
def _(env):
    good_doctor(env, "moted", "rsa", env["certs"].rsa_ca, key="RSA 2048")


@test("doctor: MQTT 5 and a password (mosquitto --cert/--key on mutual TLS)",
      needs=("mosquitto",))
def _(env):
    c = env["certs"]
    r, _ = doctor(env, url(env, "mosquitto", "mtls"), "--cafile", c.good_ca, "--cert",
                  c.dev_cert, "--key", c.dev_key, "-V", "5", want_status=0)
    check("MQTT 5.0" in r["mqtt"]["connect"]["text"], repr(r["mqtt"]))


@test("doctor: mutual TLS without a client certificate says so", needs=("mosquitto",))
def _(env):
    r, _ = doctor(env, url(env, "mosquitto", "mtls"), "--cafile", env["certs"].good_ca,
                  want_status=1)
    v = r["verdict"]
    check(v["failed"] == "tls" and "requires a client certificate" in v["text"], repr(v))


@test("doctor: wrong CA names both CNs", needs=("moted",))
def _(env):
    c = env["certs"]
    r, _ = doctor(env, url(env, "moted", "tls"), "--cafile", c.wrong_ca, want_status=1)
    v = r["verdict"]
    check(v["failed"] == "tls", repr(v))
    check("issued by CN=%s" % c.good_ca_cn in v["text"] and "CN=Wrong Test CA" in v["text"] and
          "give the device the CA that signed" in v["text"], v["text"])
    check(r["max_fragment_length"]["512"] is True, "MFL is known even so: %r" %
          r["max_fragment_length"])
    check(r["chain"]["certificates"][0]["issuer"] == "CN=" + c.good_ca_cn, repr(r["chain"]))


@test("doctor: a CA made again under the same name: another key", needs=("moted",))
def _(env):
    r, _ = doctor(env, url(env, "moted", "tls"), "--cafile", env["certs"].remade_ca,
                  want_status=1)
    check("with another key" in r["verdict"]["text"], r["verdict"]["text"])


@test("doctor: --ram 6k: the TLS state does not fit", needs=("moted",))
def _(env):
    r, _ = doctor(env, url(env, "moted", "tls"), "--cafile", env["certs"].good_ca, "--ram", "6k",
                  want_status=1)
    v = r["verdict"]
    check(v["failed"] == "ram" and "TLS state does not fit" in v["text"] and
          "struct mote_tls" in v["text"] and "6 KB" in v["text"], repr(v))


@test("doctor: --ram 8k: the record buffer does not fit next to the TLS state", needs=("moted",))
def _(env):
    r, _ = doctor(env, url(env, "moted", "tls"), "--cafile", env["certs"].good_ca, "--ram", "8k",
                  want_status=1)
    v = r["verdict"]
    check(v["failed"] == "ram" and "record buffer does not fit" in v["text"] and
          "837" in v["text"], repr(v))


@test("doctor: --mfl 4096 counts 4421 bytes of record buffer", needs=("moted",))
def _(env):
    r, _ = doctor(env, url(env, "moted", "tls"), "--cafile", env["certs"].good_ca, "--mfl",
                  "4096", want_status=0)
    check(r["ram"]["record_buffer"] == 4421 and r["tls_handshake"]["record_size"] == 4096,
          repr(r["ram"]))


@test("doctor: moted with ciphers ECDHE-ECDSA-AES128-SHA: no cipher suite in common",
      needs=("moted",))
def _(env):
    r, _ = doctor(env, url(env, "moted", "cipher"), "--cafile", env["certs"].good_ca,
                  want_status=1)
    v = r["verdict"]
    check(v["failed"] == "tls" and "no cipher suite in common" in v["text"] and
          "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" in v["text"], repr(v))


@test("doctor: mosquitto with ciphers ECDHE-RSA-AES256-SHA384 and an ECDSA key: no cipher "
      "suite in common", needs=("mosquitto",))
def _(env):
    r, _ = doctor(env, url(env, "mosquitto", "cipher"), "--cafile", env["certs"].good_ca,
                  want_status=1)
    v = r["verdict"]
    check(v["failed"] == "tls" and "no cipher suite in common" in v["text"] and
          "ECDHE-ECDSA" in v["text"], repr(v))


def tls13_doctor(env, broker):
    r, _ = doctor(env, url(env, broker, "tls13"), "--cafile", env["certs"].good_ca,
                  want_status=1)
    v = r["verdict"]
    check(v["failed"] == "tls" and "no TLS version in common" in v["text"] and
          "only TLS 1.3" in v["text"] and "tls_version tlsv1.2" in v["text"], repr(v))


@test("doctor: moted with tls_version tlsv1.3: no TLS version in common", needs=("moted",))
def _(env):
    tls13_doctor(env, "moted")


@test("doctor: mosquitto with tls_version tlsv1.3: no TLS version in common",
      needs=("mosquitto",))
def _(env):
    tls13_doctor(env, "mosquitto")


@test("doctor: an expired server certificate, with its dates", needs=("moted",))
def _(env):
    r, text = doctor(env, url(env, "moted", "expired"), "--cafile", env["certs"].good_ca,
                     want_status=1)
    v = r["verdict"]
    check(v["failed"] == "tls" and "expired on 2021-01-01" in v["text"] and
          "valid from 2020-01-01 to 2021-01-01" in v["text"] and "renew" in v["text"], repr(v))
    check(r["chain"]["certificates"][0]["expired"] is True, repr(r["chain"]))
    check("EXPIRED" in text, text)


@test("doctor: a certificate for another name", needs=("moted",))
def _(env):
    r, _ = doctor(env, url(env, "moted", "otherhost"), "--cafile", env["certs"].good_ca,
                  want_status=1)
    v = r["verdict"]
    check("other.example" in v["text"] and "not for localhost" in v["text"], repr(v))


def plaintext_doctor(env, broker):
    r, _ = doctor(env, url(env, broker, "plain"), "--cafile", env["certs"].good_ca,
                  want_status=1)
    v = r["verdict"]
    check(v["failed"] == "tls" and "plaintext port given as TLS" in v["text"] and
          "not TLS" in v["text"] and "mqtt://localhost" in v["text"], repr(v))


@test("doctor: a plaintext port given as TLS (moted)", needs=("moted",))
def _(env):
    plaintext_doctor(env, "moted")


@test("doctor: a plaintext port given as TLS (mosquitto)", needs=("mosquitto",))
def _(env):
    plaintext_doctor(env, "mosquitto")


@test("doctor: a TLS port given as plain MQTT", needs=("moted",))
def _(env):
    r, _ = doctor(env, url(env, "moted", "tls", "mqtt"), want_status=1)
    check("TLS port given as plain MQTT" in r["verdict"]["text"], repr(r["verdict"]))


@test("doctor: plain MQTT works, and says it is plain", needs=("moted",))
def _(env):
    r, _ = doctor(env, url(env, "moted", "plain", "mqtt"), want_status=0)
    check("plain MQTT" in r["verdict"]["text"] and r["mqtt"]["round_trip"]["ok"], repr(r))


@test("doctor: CONNACK refused for a missing password, accepted with it", needs=("moted_auth",))
def _(env):
    u = url(env, "moted_auth", "plain", "mqtt")
    r, _ = doctor(env, u, want_status=1)
    v = r["verdict"]
    check(v["failed"] == "mqtt" and "refused the connection" in v["text"], repr(v))
    doctor(env, u, "-u", "device", "-P", "s3cret", want_status=0)


@test("doctor: a server that ignores max_fragment_length: 16 KB records do not fit 20 KB",
      needs=("nomfl",))
def _(env):
    u = "mqtts://localhost:%d" % env["nomfl"].port
    ca = env["certs"].good_ca
    r, _ = doctor(env, u, "--cafile", ca, want_status=1)
    v = r["verdict"]
    check(r["max_fragment_length"] == {"512": False, "1024": False, "2048": False,
                                       "4096": False}, repr(r["max_fragment_length"]))
    check(v["failed"] == "ram" and "ignores max_fragment_length" in v["text"] and
          "16709" in v["text"] and "moted" in v["text"], repr(v))
    check(r["ram"]["record_buffer"] == 16709 and r["mqtt"]["round_trip"]["ok"], repr(r["ram"]))
    r, _ = doctor(env, u, "--cafile", ca, "--ram", "24k", want_status=0)
    check("will connect" in r["verdict"]["text"], repr(r["verdict"]))
    r, _ = doctor(env, u, "--cafile", ca, "--mfl", "512", "--ram", "24k", want_status=1)
    check("ignores max_fragment_length 512" in r["verdict"]["text"] and
          "first large message" in r["verdict"]["text"], repr(r["verdict"]))


@test("doctor: DNS and TCP failures")
def _(env):
    r, _ = doctor(env, "mqtts://no-such-host.invalid:8883", "--cafile", env["certs"].good_ca,
                  want_status=1)
    check(r["verdict"]["failed"] == "dns" and "does not resolve" in r["verdict"]["text"],
          repr(r["verdict"]))
    r, _ = doctor(env, "mqtts://127.0.0.1:%d" % free_port(), "--cafile", env["certs"].good_ca,
                  want_status=1)
    check(r["verdict"]["failed"] == "tcp" and "connection refused" in r["verdict"]["text"],
          repr(r["verdict"]))


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", action="append", default=[], help="only tests whose name has this")
    ap.add_argument("-v", action="store_true", help="print broker logs of failed tests")
    args = ap.parse_args()

    selected = [t for t in TESTS if not args.k or any(k in t[0] for k in args.k)]
    passed = failed = 0
    problems = []
    for tool, path in (("mote", MOTE), ("moted", MOTED)):
        if not os.access(path, os.X_OK):
            problems.append("no %s at %s: build with make" % (tool, path))
    if not shutil.which("openssl"):
        problems.append("openssl is missing (scripts/deps.sh)")
    if problems:
        for p in problems:
            print("FAIL setup: " + p)
        print("0 passed, %d failed" % len(problems))
        return 1

    work = tempfile.mkdtemp(prefix="mote-cli-test-")
    env = {"work": work}
    brokers = []
    try:
        env["certs"] = Certs(work)
        needed = {n for t in selected for n in t[2]}
        conf, names = moted_conf(env["certs"], work)
        if "moted" in needed:
            env["moted"] = Broker("moted", "moted", work, conf, names).start()
            brokers.append(env["moted"])
        if "moted_auth" in needed:
            conf, names = moted_auth_conf(work)
            env["moted_auth"] = Broker("moted_auth", "moted", work, conf, names).start()
            brokers.append(env["moted_auth"])
        if "mosquitto" in needed:
            if os.access(MOSQUITTO, os.X_OK):
                conf, names = mosquitto_conf(env["certs"])
                env["mosquitto"] = Broker("mosquitto", "mosquitto", work, conf, names).start()
                brokers.append(env["mosquitto"])
        if "nomfl" in needed:
            if "moted" not in env:
                env["moted"] = Broker("moted", "moted", work, conf, names).start()
                brokers.append(env["moted"])
            env["nomfl"] = NoMflProxy(work, env["certs"].good_cert, env["certs"].good_key,
                                      env["moted"].port("plain"))
        for name, fn, needs in selected:
            missing = [n for n in needs if n not in env]
            start = time.monotonic()
            try:
                if missing:
                    raise Failed("%s is not available (apt-get install mosquitto)" %
                                 ", ".join(missing))
                fn(env)
                passed += 1
                print("ok   %s (%.1f s)" % (name, time.monotonic() - start), flush=True)
            except Exception as e:
                failed += 1
                detail = str(e) if isinstance(e, Failed) else traceback.format_exc()
                print("FAIL %s\n     %s" % (name, detail.replace("\n", "\n     ")), flush=True)
                if args.v:
                    for b in brokers:
                        print("     --- %s log:\n     %s" % (b.key, b.log_tail().replace(
                            "\n", "\n     ")))
            for b in list(brokers):
                if b.proc.poll() is not None:  # a crash: its tests fail from now on
                    print("FAIL %s exited (status %s): %s" % (b.key, b.proc.poll(),
                                                               b.log_tail()))
                    failed += 1
                    brokers.remove(b)
                    env.pop(b.key, None)
    except Exception:
        failed += 1
        print("FAIL setup\n     " + traceback.format_exc().replace("\n", "\n     "))
    finally:
        if "nomfl" in env:
            env["nomfl"].stop()
        for b in brokers:
            b.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
