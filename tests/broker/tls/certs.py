"""Certificates for the TLS tests, made once per run with the openssl CLI into a temporary folder.

    d = certs.get()      # the folder; run.py makes it and passes it on in MOTE_TLS_CERTS
    certs.path("ca.crt") # a file in it

What is there (every CA is ECDSA P-256 unless said otherwise):
  ca.crt/key             "mote test CA": signs the server and the device certificates
  server.crt/key         ECDSA P-256, SAN localhost and 127.0.0.1, signed by ca
  other-ca.crt/key       "mote other CA": unrelated to ca
  server-other.crt/key   the same names as server.crt, signed by other-ca (for SIGHUP reloads)
  device.crt/key         client certificate, CN device-1, signed by ca
  expired.crt/key        client certificate, CN device-old, signed by ca, expired in 2020
  stranger.crt/key       client certificate, CN stranger, signed by other-ca
  inter.crt/key          RSA-2048 intermediate CA, signed by ca
  server-rsa.crt/key     RSA-2048 server certificate signed by inter
  server-rsa-chain.crt   server-rsa.crt then inter.crt: a chain of well over 512 bytes
"""

import os
import shutil
import subprocess
import tempfile

ENV = "MOTE_TLS_CERTS"

CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n" \
         "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
SERVER_EXT = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" \
             "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" \
             "authorityKeyIdentifier=keyid\n"
CLIENT_EXT = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" \
             "extendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n"

# `openssl ca` is the only way openssl 3.0 sets arbitrary dates (x509 -req has -days only).
CA_CONF = """[ca]
default_ca = old
[old]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
[ext]
""" + CLIENT_EXT


def _openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stdout.decode(errors="replace")))
    return r.stdout


def _key(d, name, rsa=False):
    if rsa:
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", name + ".key", cwd=d)
    else:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=d)


def _write(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def _ca(d, name, cn):
    _key(d, name)
    # req -x509 with a config of our own, so that the system openssl.cnf changes nothing.
    _write(d, "req.cnf", "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n[v3]\n" + CA_EXT)
    _openssl("req", "-new", "-x509", "-config", "req.cnf", "-extensions", "v3", "-key", name + ".key",
             "-out", name + ".crt", "-days", "3650", "-subj", "/O=mote tests/CN=" + cn, cwd=d)


def _signed(d, name, cn, ca, ext, rsa=False, days=365):
    _key(d, name, rsa)
    _write(d, "req.cnf", "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n")
    _openssl("req", "-new", "-config", "req.cnf", "-key", name + ".key", "-out", name + ".csr",
             "-subj", "/O=mote tests/CN=" + cn, cwd=d)
    _write(d, name + ".ext", ext)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
             "-CAcreateserial", "-out", name + ".crt", "-days", str(days), "-sha256",
             "-extfile", name + ".ext", cwd=d)


def _expired(d, name, cn, ca):
    _key(d, name)
    _write(d, "req.cnf", "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n")
    _openssl("req", "-new", "-config", "req.cnf", "-key", name + ".key", "-out", name + ".csr",
             "-subj", "/CN=" + cn, cwd=d)
    db = os.path.join(d, "cadb")
    os.mkdir(db)
    _write(db, "index.txt", "")
    _write(db, "serial", "1000\n")
    _write(d, "ca.cnf", CA_CONF.format(dir=db))
    _openssl("ca", "-batch", "-config", "ca.cnf", "-extensions", "ext", "-cert", ca + ".crt",
             "-keyfile", ca + ".key", "-in", name + ".csr", "-out", name + ".crt", "-notext",
             "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", cwd=d)
    shutil.rmtree(db)


def make(d):
    """Writes every file listed above into the folder d."""
    _ca(d, "ca", "mote test CA")
    _ca(d, "other-ca", "mote other CA")
    _signed(d, "server", "localhost", "ca", SERVER_EXT)
    _signed(d, "server-other", "localhost", "other-ca", SERVER_EXT)
    _signed(d, "device", "device-1", "ca", CLIENT_EXT)
    _signed(d, "stranger", "stranger", "other-ca", CLIENT_EXT)
    _expired(d, "expired", "device-old", "ca")
    _key(d, "inter", rsa=True)
    _write(d, "req.cnf", "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\n")
    _openssl("req", "-new", "-config", "req.cnf", "-key", "inter.key", "-out", "inter.csr",
             "-subj", "/O=mote tests/CN=mote intermediate CA", cwd=d)
    _write(d, "inter.ext", CA_EXT)
    _openssl("x509", "-req", "-in", "inter.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "inter.crt", "-days", "3650", "-sha256", "-extfile", "inter.ext", cwd=d)
    _signed(d, "server-rsa", "localhost", "inter", SERVER_EXT, rsa=True)
    with open(os.path.join(d, "server-rsa-chain.crt"), "w") as out:
        for part in ("server-rsa.crt", "inter.crt"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    for name in os.listdir(d):
        if name.endswith((".csr", ".ext", ".cnf", ".srl")):
            os.unlink(os.path.join(d, name))


def get():
    """The certificate folder: MOTE_TLS_CERTS, or a new one made now (and kept in the
    environment, so that child processes reuse it)."""
    d = os.environ.get(ENV)
    if d and os.path.exists(os.path.join(d, "server-rsa-chain.crt")):
        return d
    d = tempfile.mkdtemp(prefix="mote-tls-certs-")
    make(d)
    os.environ[ENV] = d
    return d


def path(name):
    return os.path.join(get(), name)


def fingerprint(name):
    """SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it (AA:BB:...)."""
    out = _openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", path(name), cwd=get())
    return out.decode().strip().split("=", 1)[1]


def der_size(name):
    """Bytes of the DER encoding of the first certificate in a PEM file."""
    return len(_openssl("x509", "-outform", "DER", "-in", path(name), cwd=get()))
