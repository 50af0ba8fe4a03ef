#!/usr/bin/env bash
# tests/tls/make_certs.sh DIR - the certificates the TLS tests need, made fresh with the openssl CLI
# (so every date is relative to today). Everything lands in DIR; nothing else is touched.
#
#   ca             ECDSA P-256 root "Mote Test CA"
#   server         P-256 leaf from ca: CN mote-test-server, SAN DNS:localhost, IP:127.0.0.1
#   client         P-256 leaf from ca with clientAuth, for mutual TLS
#   rsa_root       RSA-2048 root "Mote Test RSA Root"
#   rsa_inter      RSA-2048 intermediate "Mote Test RSA Intermediate", from rsa_root
#   rsa_server     RSA-2048 leaf from rsa_inter; rsa_server_chain.pem = leaf + intermediate (the
#                  chain is well over 512 bytes, so it cannot fit one 512-byte record)
#   expired        leaf from ca, valid 2020-01-01 .. 2021-01-01
#   future         leaf from ca, valid 2040-01-01 .. 2041-01-01
#   other_ca       a CA the device does not trust: "Mote Other CA", and other_server from it
#   badsig         server's certificate with one bit of its signature flipped
#   badsig_rsa     rsa_server's certificate, likewise; badsig_rsa_chain.pem adds rsa_inter
#   rekeyed        P-256 leaf from a CA made again as "Mote Test CA" with a new key
#   pss            P-256 leaf signed by rsa_root with RSA-PSS (BearSSL verifies PKCS#1 v1.5 only)
#   big            RSA-4200 leaf from ca: its key is larger than BearSSL's X.509 key buffer
# Each NAME has NAME.pem, NAME.key (PKCS#8), NAME.der, and NAME.pub.der (SubjectPublicKeyInfo).
set -euo pipefail

dir="${1:?usage: make_certs.sh DIR}"
mkdir -p "$dir"
cd "$dir"
rm -rf ca-db && mkdir ca-db && : >ca-db/index.txt && echo 1000 >ca-db/serial

key_ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
key_rsa() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1.key" 2>/dev/null; }

# root NAME CN: a self-signed CA from NAME.key
root() {
  openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 -subj "/O=mote tests/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# ext FILE KIND: X.509 extensions for a server, a client or an intermediate CA
ext() {
  case "$2" in
  server) printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$1" ;;
  client) printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=clientAuth" >"$1" ;;
  ca) printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" "keyUsage=critical,keyCertSign,cRLSign" >"$1" ;;
  esac
}

# sign NAME CN ISSUER KIND [openssl x509 options...]: NAME.key's certificate, signed by ISSUER
sign() {
  local name="$1" cn="$2" issuer="$3" kind="$4"
  shift 4
  openssl req -new -key "$name.key" -out "$name.csr" -subj "/O=mote tests/CN=$cn"
  ext "$name.ext" "$kind"
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
    -out "$name.pem" -days 365 -sha256 -extfile "$name.ext" "$@" 2>/dev/null
}

# sign_dated NAME CN ISSUER START END: like sign (server kind), with fixed validity dates
sign_dated() {
  local name="$1" cn="$2" issuer="$3" start="$4" end="$5"
  openssl req -new -key "$name.key" -out "$name.csr" -subj "/O=mote tests/CN=$cn"
  ext "$name.ext" server
  cat >ca-db/ca.cnf <<CNF
[ ca ]
default_ca = dated
[ dated ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationName = optional
CNF
  openssl ca -batch -config ca-db/ca.cnf -cert "$issuer.pem" -keyfile "$issuer.key" \
    -in "$name.csr" -out "$name.pem" -startdate "$start" -enddate "$end" \
    -extfile "$name.ext" -notext 2>/dev/null
}

key_ec ca && root ca "Mote Test CA"
key_ec server && sign server mote-test-server ca server
key_ec client && sign client mote-test-client ca client

key_rsa rsa_root 2048 && root rsa_root "Mote Test RSA Root"
key_rsa rsa_inter 2048 && sign rsa_inter "Mote Test RSA Intermediate" rsa_root ca
key_rsa rsa_server 2048 && sign rsa_server mote-rsa-server rsa_inter server
cat rsa_server.pem rsa_inter.pem >rsa_server_chain.pem

key_ec expired && sign_dated expired mote-expired-server ca 20200101000000Z 20210101000000Z
key_ec future && sign_dated future mote-future-server ca 20400101000000Z 20410101000000Z

key_ec other_ca && root other_ca "Mote Other CA"
key_ec other_server && sign other_server mote-other-server other_ca server

key_ec pss && sign pss mote-pss-server rsa_root server -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:32

key_rsa big 4200 && sign big mote-big-server ca server

# the CA made again: same name, new key (its certificate is rekeyed_ca.pem)
key_ec rekeyed_ca && root rekeyed_ca "Mote Test CA"
key_ec rekeyed && sign rekeyed mote-rekeyed-server rekeyed_ca server

for n in ca server client rsa_root rsa_inter rsa_server expired future other_ca other_server pss big; do
  openssl x509 -in "$n.pem" -outform DER -out "$n.der"
  openssl pkey -in "$n.key" -pubout -outform DER -out "$n.pub.der"
done

# corrupt FROM TO: FROM's certificate with the last byte of its signature changed (key and
# names intact)
corrupt() {
  cp "$1.key" "$2.key"
  cp "$1.der" "$2.der"
  local last size
  last=$(tail -c 1 "$2.der" | od -An -tu1 | tr -d ' ')
  size=$(stat -c %s "$2.der")
  printf "\\$(printf '%03o' $((last ^ 1)))" | dd of="$2.der" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
  openssl x509 -inform DER -in "$2.der" -out "$2.pem"
}
corrupt server badsig
corrupt rsa_server badsig_rsa
cat badsig_rsa.pem rsa_inter.pem >badsig_rsa_chain.pem

rm -f ./*.csr ./*.ext ./*.srl
echo "certificates in $dir"
