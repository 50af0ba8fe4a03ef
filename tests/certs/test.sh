#!/usr/bin/env bash
# tests/certs/test.sh - `mote certs` end to end: files and modes, refusals, what OpenSSL says of
# the certificates, the embedded header compiled and checked by BearSSL's own X.509 engine, and
# real TLS with Debian's mosquitto (server authentication, then mutual TLS with a device cert).
#   tests/certs/test.sh [MOTE]     MOTE: the mote binary (default $MOTE, then build/cli/mote)
# Needs openssl, cc, libbearssl-dev, mosquitto, mosquitto-clients, python3 (scripts/deps.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mote=${1:-${MOTE:-$root/build/cli/mote}}
[[ $mote == /* ]] || mote=$PWD/$mote
CC=${CC:-cc}

for tool in openssl "$CC" mosquitto mosquitto_pub python3; do
    command -v "$tool" >/dev/null || { echo "certs test: $tool is missing: run scripts/deps.sh" >&2; exit 1; }
done
[[ -x $mote ]] || { echo "certs test: no mote binary at $mote (build first, or pass its path)" >&2; exit 1; }
[[ -f /usr/include/bearssl.h ]] || { echo "certs test: bearssl.h is missing: install libbearssl-dev" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mote-certs-test.XXXXXX")
mosq_pid=
cleanup() {
    [[ -n $mosq_pid ]] && kill "$mosq_pid" 2>/dev/null && wait "$mosq_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; [[ -n ${2:-} ]] && sed 's/^/     /' <<<"$2"; }
check() { # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
    local desc=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$desc"; else bad "$desc" "$out"; fi
}
check_fails() { # check_fails DESCRIPTION COMMAND...: passes when COMMAND fails
    local desc=$1; shift
    local out
    if out=$("$@" 2>&1); then bad "$desc (it succeeded)" "$out"; else ok "$desc"; fi
}
contains() { grep -qF -- "$2" <<<"$1"; }
mode() { stat -c %a "$1"; }
text() { openssl x509 -in "$1" -noout -text; }
der_size() { openssl x509 -in "$1" -outform DER | wc -c; }
days_valid() { # whole days between notBefore and notAfter
    local s e
    s=$(date -ud "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s)
    e=$(date -ud "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s)
    echo $(((e - s) / 86400))
}
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
# The "after" line of a "header:" line in openssl's -text output, trimmed.
ext() { grep -A1 -F -- "$2" <<<"$1" | tail -1 | sed 's/^ *//; s/ *$//'; }

host=$(hostname)
today=$(date -u +%F)

echo "== help"
out=$("$mote" certs --help 2>&1); rc=$?
[[ $rc == 0 ]] && contains "$out" "init" && contains "$out" "device" && contains "$out" "embed" &&
    ok "mote certs --help lists the commands" || bad "mote certs --help (rc $rc)" "$out"
for sub in init server device embed; do
    out=$("$mote" certs $sub --help 2>&1); rc=$?
    [[ $rc == 0 ]] && contains "$out" "Usage: mote certs $sub" && ok "mote certs $sub --help" || bad "mote certs $sub --help (rc $rc)" "$out"
done
"$mote" certs >/dev/null 2>&1; rc=$?
[[ $rc == 2 ]] && ok "mote certs alone is a usage error (2)" || bad "mote certs alone: rc $rc"
out=$("$mote" certs frob 2>&1); rc=$?
[[ $rc == 2 && $(wc -l <<<"$out") == 1 ]] && ok "unknown command: $out" || bad "unknown command (rc $rc)" "$out"

echo "== init (ECDSA, default names)"
if [[ $host =~ ^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$ ]]; then
    out=$("$mote" certs init --dir ec 2>&1); rc=$?
    default_names=1
else # a hostname that cannot be a DNS name: init must say so, then we name the broker ourselves
    out=$("$mote" certs init --dir ec 2>&1); rc=$?
    if [[ $rc -eq 1 ]] && contains "$out" "--host"; then ok "init refuses the hostname '$host' and says to use --host"; else bad "init with hostname '$host'" "$out"; fi
    host=localhost
    out=$("$mote" certs init --dir ec --host localhost 2>&1); rc=$?
    default_names=0
fi
if [[ $rc -eq 0 ]]; then ok "init exits 0"; else bad "init exits 0 (got $rc)" "$out"; fi
for f in ca.crt server.crt; do
    [[ $(mode ec/$f) == 644 ]] && ok "$f has mode 0644" || bad "$f has mode $(mode ec/$f), not 0644"
done
for f in ca.key server.key; do
    [[ $(mode ec/$f) == 600 ]] && ok "$f has mode 0600" || bad "$f has mode $(mode ec/$f), not 0600"
done
contains "$out" "ec/ca.crt" && ok "init prints the CA's path" || bad "init prints the CA's path" "$out"
contains "$out" "SHA-256 $(fp ec/ca.crt)" && ok "init prints the CA's SHA-256 as openssl does" || bad "fingerprint" "$out"
ec_leaf=$(der_size ec/server.crt) ec_ca=$(der_size ec/ca.crt)
contains "$out" "chain size  $ec_leaf bytes" && ok "init reports the chain size ($ec_leaf bytes, = server.crt DER)" || bad "chain size $ec_leaf" "$out"
contains "$out" "$((ec_leaf + ec_ca)) bytes with ca.crt" && ok "init reports the chain size with the CA ($((ec_leaf + ec_ca)))" || bad "chain size with CA" "$out"
if ((default_names)); then
    contains "$out" "DNS:$host DNS:localhost IP:127.0.0.1 IP:::1" && ok "init prints the server's names" || bad "names printed" "$out"
fi
contains "$out" "valid " && ok "init prints the validity" || bad "validity printed" "$out"

echo "== what openssl says of them"
check "openssl verify -x509_strict -purpose sslserver -CAfile ca.crt server.crt" \
    openssl verify -x509_strict -purpose sslserver -CAfile ec/ca.crt ec/server.crt
check_fails "server.crt is not a client certificate (-purpose sslclient)" \
    openssl verify -purpose sslclient -CAfile ec/ca.crt ec/server.crt
ca_text=$(text ec/ca.crt) srv_text=$(text ec/server.crt)
contains "$ca_text" "Subject: CN = mote CA $host $today" && ok "CA subject is 'mote CA $host $today'" || bad "CA subject" "$(grep Subject: <<<"$ca_text")"
contains "$ca_text" "X509v3 Basic Constraints: critical" && [[ $(ext "$ca_text" "Basic Constraints") == CA:TRUE ]] &&
    ok "CA: basicConstraints critical CA:TRUE" || bad "CA basicConstraints" "$ca_text"
contains "$ca_text" "X509v3 Key Usage: critical" && [[ $(ext "$ca_text" "X509v3 Key Usage:") == "Certificate Sign, CRL Sign" ]] &&
    ok "CA: keyUsage critical keyCertSign, cRLSign" || bad "CA keyUsage" "$ca_text"
contains "$ca_text" "NIST CURVE: P-256" && ok "CA key is ECDSA P-256" || bad "CA key type" "$ca_text"
d=$(days_valid ec/ca.crt); ((d >= 3652 && d <= 3653)) && ok "CA valid for ten years ($d days)" || bad "CA validity $d days"
d=$(days_valid ec/server.crt); [[ $d == 825 ]] && ok "server.crt valid for 825 days" || bad "server validity $d days"
contains "$srv_text" "Subject: CN = $host" && ok "server CN is the hostname" || bad "server CN" "$srv_text"
if ((default_names)); then
    san=$(ext "$srv_text" "Subject Alternative Name")
    [[ $san == "DNS:$host, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" ]] &&
        ok "server SAN: $san" || bad "server SAN" "$san"
fi
contains "$srv_text" "X509v3 Key Usage: critical" && [[ $(ext "$srv_text" "X509v3 Key Usage:") == "Digital Signature" ]] &&
    ok "server: keyUsage critical digitalSignature (ECDSA: no keyEncipherment)" || bad "server keyUsage" "$srv_text"
[[ $(ext "$srv_text" "Extended Key Usage") == "TLS Web Server Authentication" ]] &&
    ok "server: extendedKeyUsage serverAuth" || bad "server EKU" "$srv_text"
contains "$srv_text" "NIST CURVE: P-256" && ok "server key is ECDSA P-256" || bad "server key type" "$srv_text"
contains "$srv_text" "Signature Algorithm: ecdsa-with-SHA256" && ok "signed with ecdsa-with-SHA256" || bad "signature algorithm" "$srv_text"

echo "== refusing to overwrite"
before=$(cat ec/*.crt ec/*.key | sha256sum)
out=$("$mote" certs init --dir ec 2>&1); rc=$?
[[ $rc == 1 ]] && contains "$out" "ec/ca.crt already exists" && contains "$out" "--force" &&
    ok "a second init exits 1 and names ec/ca.crt and --force" || bad "second init (rc $rc)" "$out"
[[ $(wc -l <<<"$out") == 1 ]] && ok "the error is one line" || bad "the error is one line" "$out"
[[ $(cat ec/*.crt ec/*.key | sha256sum) == "$before" ]] && ok "nothing was changed" || bad "files changed"
mkdir partial && cp ec/server.key partial/
out=$("$mote" certs init --dir partial 2>&1); rc=$?
[[ $rc == 1 ]] && contains "$out" "partial/server.key already exists" && [[ ! -e partial/ca.crt ]] &&
    ok "init names the one existing file (server.key) and writes nothing" || bad "partial refusal" "$out"
out=$( (umask 077; "$mote" certs init --dir partial --force --host localhost) 2>&1); rc=$?
[[ $rc == 0 && $(mode partial/ca.crt) == 644 && $(mode partial/server.key) == 600 ]] &&
    ok "--force replaces, and modes are 0644/0600 whatever the umask" || bad "--force under umask 077" "$out"
leftovers=(partial/*.tmp*)
[[ -e ${leftovers[0]} ]] && bad "temporary files left" "${leftovers[*]}" || ok "no temporary files left"

echo "== names, days and RSA"
out=$("$mote" certs init --dir named --host broker.lan --host pi.local --ip 192.168.1.10 --ip fd00::1 --days 30 2>&1) ||
    bad "init with names" "$out"
t=$(text named/server.crt)
[[ $(ext "$t" "Subject Alternative Name") == "DNS:broker.lan, DNS:pi.local, IP Address:192.168.1.10, IP Address:FD00:0:0:0:0:0:0:1" ]] &&
    ok "--host and --ip replace the defaults, in order" || bad "named SAN" "$(ext "$t" "Subject Alternative Name")"
contains "$t" "Subject: CN = broker.lan" && ok "CN is the first --host" || bad "named CN" "$t"
[[ $(days_valid named/server.crt) == 30 ]] && ok "--days 30" || bad "--days 30: $(days_valid named/server.crt)"
declare -A rsa_leaf=([2048]=0 [3072]=0) rsa_ca=([2048]=0 [3072]=0)
for bits in 2048 3072; do
    out=$("$mote" certs init --dir rsa$bits --rsa $bits --host localhost 2>&1) || bad "init --rsa $bits" "$out"
    t=$(text rsa$bits/server.crt)
    contains "$t" "Public-Key: ($bits bit)" && contains "$(text rsa$bits/ca.crt)" "Public-Key: ($bits bit)" &&
        ok "--rsa $bits: RSA $bits keys" || bad "--rsa $bits key" "$t"
    [[ $(ext "$t" "X509v3 Key Usage:") == "Digital Signature, Key Encipherment" ]] &&
        ok "--rsa $bits: keyUsage digitalSignature, keyEncipherment" || bad "RSA keyUsage" "$t"
    leaf=$(der_size rsa$bits/server.crt)
    contains "$out" "chain size  $leaf bytes" && ok "--rsa $bits: chain size $leaf bytes reported" || bad "RSA chain size" "$out"
    check "--rsa $bits: openssl verify" openssl verify -x509_strict -purpose sslserver -CAfile rsa$bits/ca.crt rsa$bits/server.crt
    rsa_leaf[$bits]=$leaf rsa_ca[$bits]=$(der_size rsa$bits/ca.crt)
done
for args in "--rsa 1024" "--days 0" "--host 10.0.0.1" "--host bad_name" "--ip 300.1.1.1" "--bogus" "--dir"; do
    out=$("$mote" certs init --dir usage $args 2>&1); rc=$?
    [[ $rc == 2 && $(wc -l <<<"$out") == 1 && ! -e usage ]] && ok "usage error for '$args': $out" || bad "usage error for '$args' (rc $rc)" "$out"
done

echo "== device certificates"
out=$("$mote" certs device kitchen --dir ec 2>&1) && ok "device kitchen" || bad "device kitchen" "$out"
[[ $(mode ec/devices/kitchen.crt) == 644 && $(mode ec/devices/kitchen.key) == 600 ]] &&
    ok "devices/kitchen.crt 0644, kitchen.key 0600" || bad "device modes"
check "openssl verify -x509_strict -purpose sslclient -CAfile ca.crt devices/kitchen.crt" \
    openssl verify -x509_strict -purpose sslclient -CAfile ec/ca.crt ec/devices/kitchen.crt
check_fails "kitchen.crt is not a server certificate (-purpose sslserver)" \
    openssl verify -purpose sslserver -CAfile ec/ca.crt ec/devices/kitchen.crt
t=$(text ec/devices/kitchen.crt)
contains "$t" "Subject: CN = kitchen" && [[ $(ext "$t" "Extended Key Usage") == "TLS Web Client Authentication" ]] &&
    ok "device: CN=kitchen, extendedKeyUsage clientAuth" || bad "device subject/EKU" "$t"
out=$("$mote" certs device kitchen --dir ec 2>&1); rc=$?
[[ $rc == 1 ]] && contains "$out" "kitchen.crt already exists" && ok "a second device kitchen is refused" || bad "device refusal" "$out"
out=$("$mote" certs device ../evil --dir ec 2>&1); rc=$?
[[ $rc == 2 && ! -e ec/evil.crt ]] && ok "device name '../evil' is a usage error" || bad "device ../evil (rc $rc)" "$out"
out=$("$mote" certs device x --dir nowhere 2>&1); rc=$?
[[ $rc == 1 ]] && contains "$out" "mote certs init --dir nowhere" && ok "device without a CA says to run init" || bad "device without CA" "$out"
out=$("$mote" certs device thermo --dir rsa2048 --rsa 2048 2>&1) && check "RSA device: openssl verify" \
    openssl verify -purpose sslclient -CAfile rsa2048/ca.crt rsa2048/devices/thermo.crt || bad "RSA device" "$out"

echo "== embed: the header compiles, and BearSSL verifies server.crt with it"
cc_flags=(-Wall -Wextra -Werror -I"$work")
for d in ec rsa2048 rsa3072; do
    out=$("$mote" certs embed --dir $d -o $d.h 2>&1); rc=$?
    [[ $rc == 0 && -s $d.h ]] && ok "$d: embed -o $d.h" || { bad "$d: embed (rc $rc)" "$out"; continue; }
    "$mote" certs embed --dir $d >$d.stdout.h 2>/dev/null
    cmp -s $d.h $d.stdout.h && ok "$d: the header on standard output is the same" || bad "$d: stdout differs"
    printf '#include "%s.h"\n' $d >$d.tu.c
    check "$d: cc -c -Wall -Wextra -Werror (header alone)" "$CC" -c "${cc_flags[@]}" $d.tu.c -o $d.tu.o
    check "$d: cc -std=c99 -pedantic -Werror (header alone)" "$CC" -std=c99 -pedantic -c "${cc_flags[@]}" $d.tu.c -o $d.tu.o
    grep -qF "#define MOTE_CA_SHA256 \"$(fp $d/ca.crt)\"" $d.h && ok "$d: MOTE_CA_SHA256 is the CA's fingerprint" || bad "$d: MOTE_CA_SHA256"
    grep -qF "from $d/ca.crt (SHA-256 $(fp $d/ca.crt)) */" <(head -1 $d.h) && ok "$d: first line names the CA and its SHA-256" || bad "$d: first line" "$(head -1 $d.h)"
    if [[ $d == ec ]]; then
        grep -q "BR_KEYTYPE_EC, { .ec = { BR_EC_secp256r1, (unsigned char \*)MOTE_TA0_EC_Q" $d.h &&
            grep -q "^#define MOTE_SERVER_PIN_CURVE BR_EC_secp256r1" $d.h && ok "ec: EC anchor and EC pin" || bad "ec: header shape" "$(cat $d.h)"
    else
        grep -q "BR_KEYTYPE_RSA, { .rsa = { (unsigned char \*)MOTE_TA0_RSA_N" $d.h && grep -q "MOTE_SERVER_PIN_RSA_N\[\]" $d.h &&
            ok "$d: RSA anchor and RSA pin" || bad "$d: header shape" "$(cat $d.h)"
    fi
    if out=$("$CC" "${cc_flags[@]}" -DMOTE_CERTS_HEADER="\"$d.h\"" "$here/anchor_check.c" -lbearssl -o $d.check 2>&1); then
        ok "$d: anchor_check builds against the header (-lbearssl)"
    else
        bad "$d: anchor_check build" "$out"; continue
    fi
    check "$d: br_x509_minimal verifies server.crt for 'localhost', key = pin" ./$d.check localhost 0 $d/server.crt
    cat $d/server.crt $d/ca.crt >$d.chain.pem
    check "$d: ... and the chain server.crt + ca.crt" ./$d.check localhost 0 $d.chain.pem
    check "$d: a name not in the certificate is refused (BR_ERR_X509_BAD_SERVER_NAME 56)" ./$d.check not-the-broker 56 $d/server.crt
done
[[ -x ec.check ]] && check "another CA's certificate is not trusted (BR_ERR_X509_NOT_TRUSTED 62)" ./ec.check localhost 62 rsa2048/server.crt
[[ -x rsa2048.check ]] && check "... nor the other way round" ./rsa2048.check localhost 62 ec/server.crt
# BearSSL matches DNS names only: a device that dials an address verifies a DNS name of the
# certificate (docs/certs.md). This pins that fact down.
[[ -x ec.check ]] && check "BearSSL does not match IP SANs: '127.0.0.1' is refused (56)" ./ec.check 127.0.0.1 56 ec/server.crt
# A bundle gives several anchors; a device certificate's CA works as --cert too.
cat ec/ca.crt rsa2048/ca.crt >bundle.pem
out=$("$mote" certs embed --dir ec --cert bundle.pem -o bundle.h 2>&1) && grep -q "^#define MOTE_TRUST_ANCHORS_NUM 2" bundle.h &&
    ok "--cert with two CAs gives two anchors" || bad "--cert bundle" "$out"
if "$CC" "${cc_flags[@]}" -DMOTE_CERTS_HEADER='"bundle.h"' "$here/anchor_check.c" -lbearssl -o bundle.check 2>&1; then
    check "two anchors: BearSSL verifies the EC server" ./bundle.check localhost 0 ec/server.crt
else
    bad "bundle anchor_check build"
fi
"$mote" certs embed ec/ca.crt --dir ec >positional.h 2>/dev/null && cmp -s positional.h ec.h &&
    ok "embed FILE is embed --cert FILE" || bad "embed FILE" "$(diff positional.h ec.h | head)"
# --pin FILE: the pin from a public key file (what lib/tls's pin-mismatch advice points to).
openssl pkey -in rsa2048/server.key -pubout -out rsa-pub.pem 2>/dev/null
out=$("$mote" certs embed --dir rsa2048 --pin rsa-pub.pem -o pinned.h 2>&1) && grep -q "public key of rsa-pub.pem" pinned.h &&
    ok "--pin takes the pin from a public key file" || bad "--pin rsa-pub.pem" "$out"
if "$CC" "${cc_flags[@]}" -DMOTE_CERTS_HEADER='"pinned.h"' "$here/anchor_check.c" -lbearssl -o pinned.check 2>&1; then
    check "--pin: BearSSL's key of rsa2048/server.crt equals MOTE_PINNED_KEY" ./pinned.check localhost 0 rsa2048/server.crt
else
    bad "pinned anchor_check build"
fi
out=$("$mote" certs embed --dir ec --cert rsa2048/ca.crt 2>&1); rc=$?
[[ $rc == 1 ]] && contains "$out" "ec/server.crt is not signed by rsa2048/ca.crt" && ok "embed refuses a pin the anchors do not vouch for" || bad "mismatched --cert (rc $rc)" "$out"

echo "== embed --device: a device's certificate and key for mutual TLS"
for pair in ec:kitchen rsa2048:thermo; do
    d=${pair%%:*} dev=${pair#*:}
    out=$("$mote" certs embed --dir $d --device $dev -o $d-dev.h 2>&1); rc=$?
    [[ $rc == 0 && $(mode $d-dev.h) == 600 ]] && ok "$d: embed --device $dev writes $d-dev.h with mode 0600" || bad "$d: embed --device (rc $rc)" "$out"
    grep -q "^#define MOTE_CLIENT_CHAIN_NUM 1" $d-dev.h && ok "$d: MOTE_CLIENT_CHAIN" || bad "$d: no MOTE_CLIENT_CHAIN"
    printf '#include "%s-dev.h"\n' $d >$d-dev.tu.c
    check "$d: the --device header compiles (-Wall -Wextra -Werror)" "$CC" -c "${cc_flags[@]}" $d-dev.tu.c -o $d-dev.tu.o
done
# Arduino sketches (the ESP8266's usual home) are C++.
if command -v "${CXX:-c++}" >/dev/null; then
    for h in ec-dev rsa2048-dev; do
        printf '#include "%s.h"\nint main() { return (int)MOTE_TRUST_ANCHORS_NUM + MOTE_PINNED_KEY.key_type + (int)MOTE_CLIENT_CHAIN[0].data_len; }\n' $h >$h.cpp
        check "$h: the header compiles as C++ (-std=gnu++11 -Wall -Wextra -Werror)" \
            "${CXX:-c++}" -std=gnu++11 -Wall -Wextra -Werror -I"$work" $h.cpp -lbearssl -o $h.cpp.out
    done
fi
grep -q "MOTE_CLIENT_EC_KEY = { BR_EC_secp256r1" ec-dev.h && ok "ec: EC device key (br_ec_private_key)" || bad "ec: device key"
grep -q "MOTE_CLIENT_RSA_KEY = { 2048," rsa2048-dev.h && grep -q "MOTE_CLIENT_ISSUER_KEYTYPE BR_KEYTYPE_RSA" rsa2048-dev.h &&
    ok "rsa2048: RSA device key (br_rsa_private_key)" || bad "rsa2048: device key"
out=$("$mote" certs embed --dir ec --device nobody 2>&1); rc=$?
[[ $rc == 1 ]] && contains "$out" "devices/nobody.crt" && ok "embed --device of an unknown device names the missing file" || bad "--device nobody (rc $rc)" "$out"
for h in ec ec-dev rsa2048 rsa2048-dev; do
    out=$("$CC" "${cc_flags[@]}" -DMOTE_CERTS_HEADER="\"$h.h\"" "$here/bearssl_connect.c" -lbearssl -o $h.connect 2>&1) ||
        bad "bearssl_connect build against $h.h" "$out"
done

echo "== server: a new server.crt from the same CA keeps the key (and the pin)"
out=$("$mote" certs server --dir ec 2>&1); rc=$?
[[ $rc == 1 ]] && contains "$out" "server.crt already exists" && ok "server without --force is refused" || bad "server refusal" "$out"
old_serial=$(openssl x509 -in ec/server.crt -noout -serial)
out=$("$mote" certs server --dir ec --force --host localhost --host broker.lan --days 90 2>&1) && ok "server --force" || bad "server --force" "$out"
[[ $(openssl x509 -in ec/server.crt -noout -serial) != "$old_serial" && $(days_valid ec/server.crt) == 90 ]] && ok "a new certificate, 90 days" || bad "reissued cert"
check "the new server.crt verifies" openssl verify -x509_strict -purpose sslserver -CAfile ec/ca.crt ec/server.crt
[[ -x ec.check ]] && check "the old header still verifies it and its pin still matches" ./ec.check broker.lan 0 ec/server.crt

echo "== real TLS: Debian's mosquitto"
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(4)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
read -r p_tls p_mtls p_rsa p_rsa_mtls <<<"$ports"
cat >mosquitto.conf <<EOF
user $(id -un)
per_listener_settings true
log_dest stderr
listener $p_tls 127.0.0.1
certfile $work/ec/server.crt
keyfile $work/ec/server.key
allow_anonymous true
listener $p_mtls 127.0.0.1
certfile $work/ec/server.crt
keyfile $work/ec/server.key
cafile $work/ec/ca.crt
require_certificate true
use_identity_as_username true
allow_anonymous true
listener $p_rsa 127.0.0.1
certfile $work/rsa2048/server.crt
keyfile $work/rsa2048/server.key
allow_anonymous true
listener $p_rsa_mtls 127.0.0.1
certfile $work/rsa2048/server.crt
keyfile $work/rsa2048/server.key
cafile $work/rsa2048/ca.crt
require_certificate true
allow_anonymous true
EOF
mosquitto -c mosquitto.conf >mosquitto.log 2>&1 &
mosq_pid=$!
for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$p_rsa) 2>/dev/null && break
    sleep 0.1
done
pub() { timeout 20 mosquitto_pub -h localhost -t mote/certs/test -m hello -q 1 "$@"; }
check "mosquitto_pub --cafile ca.crt -h localhost (ECDSA)" pub -p "$p_tls" --cafile ec/ca.crt
check "mosquitto_pub --cafile ca.crt -h localhost (RSA 2048)" pub -p "$p_rsa" --cafile rsa2048/ca.crt
check_fails "mosquitto_pub with another CA is refused" pub -p "$p_tls" --cafile rsa2048/ca.crt
check "mutual TLS: mosquitto_pub --cert devices/kitchen.crt --key devices/kitchen.key" \
    pub -p "$p_mtls" --cafile ec/ca.crt --cert ec/devices/kitchen.crt --key ec/devices/kitchen.key
check_fails "mutual TLS without a client certificate is refused" pub -p "$p_mtls" --cafile ec/ca.crt
check_fails "mutual TLS with another CA's device certificate is refused" \
    pub -p "$p_mtls" --cafile ec/ca.crt --cert rsa2048/devices/thermo.crt --key rsa2048/devices/thermo.key
grep -qF "u'kitchen')" mosquitto.log && ok "mosquitto took the device's CN 'kitchen' as its user name" ||
    bad "use_identity_as_username: no u'kitchen' in mosquitto's log" "$(cat mosquitto.log)"
echo "== a device's view: BearSSL's TLS client (512-byte records) with the embedded headers"
connect() { [[ -x $1.connect ]] && ./$1.connect "${@:2}"; }
check "ECDSA: BearSSL trusts mosquitto through MOTE_TRUST_ANCHORS, MQTT CONNACK" connect ec localhost "$p_tls"
check "ECDSA: ... and through MOTE_PINNED_KEY alone" connect ec localhost "$p_tls" pin
check "RSA 2048: BearSSL trusts mosquitto through MOTE_TRUST_ANCHORS" connect rsa2048 localhost "$p_rsa"
check "RSA 2048: ... and through MOTE_PINNED_KEY alone" connect rsa2048 localhost "$p_rsa" pin
check_fails "BearSSL refuses a name the certificate does not have" connect ec not-the-broker "$p_tls"
check_fails "BearSSL refuses another CA's broker" connect ec localhost "$p_rsa"
check "ECDSA mutual TLS: BearSSL presents MOTE_CLIENT_CHAIN + MOTE_CLIENT_EC_KEY" connect ec-dev localhost "$p_mtls"
check "RSA mutual TLS: BearSSL presents MOTE_CLIENT_CHAIN + MOTE_CLIENT_RSA_KEY" connect rsa2048-dev localhost "$p_rsa_mtls"
check_fails "mutual TLS: BearSSL without a client certificate is refused" connect ec localhost "$p_mtls"

sent() { # certificates the broker sends on port $1
    openssl s_client -connect 127.0.0.1:$1 -servername localhost -showcerts ${2:+-cert $2 -key $3} </dev/null 2>/dev/null |
        grep -c "BEGIN CERTIFICATE"
}
n_tls=$(sent "$p_tls") n_mtls=$(sent "$p_mtls" ec/devices/kitchen.crt ec/devices/kitchen.key)
echo "     mosquitto sends $n_tls certificate(s) without cafile, $n_mtls with cafile (mutual TLS)"
[[ $n_tls == 1 ]] && ok "mosquitto sends server.crt alone ($ec_leaf bytes)" || bad "mosquitto sends $n_tls certificates"
# With `cafile` OpenSSL builds the chain from that store and appends the CA: $((ec_leaf + ec_ca)) bytes.
kill "$mosq_pid" 2>/dev/null; wait "$mosq_pid" 2>/dev/null; mosq_pid=

echo
echo "chain sizes (DER bytes): ECDSA P-256 server.crt $ec_leaf (+ ca.crt $ec_ca = $((ec_leaf + ec_ca)));" \
    "RSA 2048 ${rsa_leaf[2048]} (+ ${rsa_ca[2048]} = $((rsa_leaf[2048] + rsa_ca[2048])));" \
    "RSA 3072 ${rsa_leaf[3072]} (+ ${rsa_ca[3072]} = $((rsa_leaf[3072] + rsa_ca[3072])))"
echo "certs: $passed passed, $failed failed"
((failed == 0))
