#!/bin/sh
# usage: tls_certs.sh DIR
# Makes the TLS tests' keys and certificates in DIR with the openssl command,
# at test time (no key is ever committed). Every key is ECDSA P-256.
#   ca.pem ca.key               a test CA
#   server.pem server.key       CN and SAN localhost, SAN IP 127.0.0.1, by the CA
#   client.pem client.key       a client certificate (clientAuth), by the CA
#   expired.pem                 as server.pem (same key, server.key), expired in 2020
#   selfsigned.pem .key         localhost, signed by itself
#   other.key                   a key that matches no certificate
#   encrypted.key               server.key under a password ("secret")
#   garbage.pem                 not PEM at all
#   truncated.pem               a PEM header whose body is cut off
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
log=openssl.log
: > "$log"
run() {
    "$@" >> "$log" 2>&1 || { echo "tls_certs.sh: failed: $*" >&2; cat "$log" >&2; exit 1; }
}

# One configuration for req and ca, independent of the system's openssl.cnf.
cat > ca.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
[any_name]
commonName = supplied
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
: > index.txt
echo 01 > serial

key() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# sign NAME KEY CN EXTENSIONS [openssl ca date options]: NAME.pem by the CA
sign() {
    name=$1 k=$2 cn=$3 ext=$4
    shift 4
    run openssl req -new -config ca.cnf -key "$k" -subj "/CN=$cn" -out "$name.csr"
    run openssl ca -batch -notext -config ca.cnf -cert ca.pem -keyfile ca.key \
        -extensions "$ext" -in "$name.csr" -out "$name.pem" "$@"
}

key ca.key
run openssl req -new -x509 -config ca.cnf -extensions ca_ext -key ca.key \
    -subj "/CN=ringo test CA" -days 3650 -out ca.pem

key server.key
sign server server.key localhost server_ext -days 3650
sign expired server.key localhost server_ext \
    -startdate 20200101000000Z -enddate 20200201000000Z

key client.key
sign client client.key "ringo test client" client_ext -days 3650

key selfsigned.key
run openssl req -new -x509 -config ca.cnf -extensions server_ext -key selfsigned.key \
    -subj /CN=localhost -days 3650 -out selfsigned.pem

key other.key
run openssl pkey -in server.key -aes256 -passout pass:secret -out encrypted.key
echo "this is not a PEM file" > garbage.pem
printf -- '-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n' > truncated.pem
rm -f ./*.csr ./[0-9A-F][0-9A-F].pem index.txt* serial*
