#!/bin/sh
# Makes a TEST certificate authority and the certificates the EdgeInspect broker setup needs, into OUT_DIR:
#   ca.pem, ca.key                 the test CA (keep ca.key off devices and brokers)
#   broker.pem, broker.key         the broker's server certificate: DNS localhost, IP 127.0.0.1 (+ BROKER_HOSTS)
#   devices/<id>.pem, <id>.key     one client certificate per device, CN = the device id (Uplink:DeviceId)
#   fleet.pem, fleet.key           the fleet identity (CN = fleet) that edgeinspect-fleet connects with
#   ingest.pem, ingest.key         the cloud ingest's identity (CN = ingest): reads records, telemetry, events, status
# The broker maps each client certificate's CN to its MQTT username (use_identity_as_username), and the ACL
# (edgeinspect.acl) gives a username only its own subtree, so the CN must be exactly the device id.
#
# Usage: make-test-ca.sh OUT_DIR DEVICE_ID [DEVICE_ID ...]
#   BROKER_HOSTS="mqtt.fleet.internal 10.0.0.5"  extra broker names / addresses for the server certificate
#   DAYS=30                                       validity (default 30: these are test certificates)
# Keys are ECDSA P-256 (PKCS#8 PEM, mode 0600). An existing OUT_DIR/ca.key is reused, so devices can be added later.
# For production, issue the same shapes from the fleet's own CA; this script is for tests and trials.
set -eu

usage() { echo "usage: $0 OUT_DIR DEVICE_ID [DEVICE_ID ...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
out=$1; shift
days=${DAYS:-30}
# The topic layout is <prefix>/<device>/...; the fleet's reply namespace is <prefix>/fleet/..., and "fleet" and "ingest"
# are the cloud identities' usernames, so neither is a device id; an id the broker cannot substitute into an ACL pattern
# ('+', '#', '/') would break the ACL.
for id in "$@"; do
  case $id in
    fleet|ingest) echo "error: device id '$id' is a cloud identity's name (edgeinspect.acl); pick another id" >&2; exit 2 ;;
    *[!A-Za-z0-9._-]*|'') echo "error: device id '$id': use letters, digits, '.', '_' or '-' (it becomes a topic level and a CN)" >&2; exit 2 ;;
  esac
done

command -v openssl >/dev/null || { echo "error: openssl not found (apt-get install openssl)" >&2; exit 2; }
mkdir -p "$out/devices"
umask 077

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME KEY CERT EXTFILE: a certificate for CN=NAME signed by the CA
sign() {
  openssl req -new -key "$2" -subj "/CN=$1" -out "$3.csr"
  openssl x509 -req -in "$3.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial -days "$days" -sha256 \
    -extfile "$4" -out "$3" 2>/dev/null
  rm -f "$3.csr"
  chmod 0644 "$3"
}

if [ ! -f "$out/ca.key" ]; then
  newkey "$out/ca.key"
  openssl req -x509 -new -key "$out/ca.key" -subj "/CN=EdgeInspect test CA" -days "$days" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$out/ca.pem"
  chmod 0644 "$out/ca.pem"
fi

ext=$(mktemp)
trap 'rm -f "$ext"' EXIT

san="DNS:localhost,IP:127.0.0.1"
for h in ${BROKER_HOSTS:-}; do
  case $h in
    *[!0-9.:]*) san="$san,DNS:$h" ;;
    *) san="$san,IP:$h" ;;
  esac
done
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" > "$ext"
newkey "$out/broker.key"
sign localhost "$out/broker.key" "$out/broker.pem" "$ext"

printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > "$ext"
for cloud in fleet ingest; do
  newkey "$out/$cloud.key"
  sign "$cloud" "$out/$cloud.key" "$out/$cloud.pem" "$ext"
done
for id in "$@"; do
  newkey "$out/devices/$id.key"
  sign "$id" "$out/devices/$id.key" "$out/devices/$id.pem" "$ext"
done

echo "CA      $out/ca.pem"
echo "broker  $out/broker.pem ($san)"
echo "fleet   $out/fleet.pem (CN=fleet)"
echo "ingest  $out/ingest.pem (CN=ingest)"
for id in "$@"; do echo "device  $out/devices/$id.pem (CN=$id)"; done
