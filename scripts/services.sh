#!/usr/bin/env bash
# Local Apache Kafka broker + Elasticsearch node on loopback, without Docker.
#
#   scripts/services.sh up [kafka|es]       start (idempotent), wait until ready
#   scripts/services.sh down [kafka|es]     stop (SIGTERM, then SIGKILL after ~30 s)
#   scripts/services.sh status [kafka|es]   up/down per service (exit 0 only if all up)
#   scripts/services.sh logs [kafka|es] [-f] [-n N]
#   scripts/services.sh reset [kafka|es]    stop and wipe data (downloads are kept)
#   add --secure (or SECMON_SERVICES_SECURE=1) to any command: the secured pair instead, beside the
#   plain one (Kafka SASL_SSL + SCRAM-SHA-512 on 9094, ES with x-pack security + HTTPS on 9201)
#
# Everything (downloads, data, logs, pid files) lives under $SECMON_SERVICES_DIR
# (default /var/lib/secmon-services as root): Elasticsearch refuses to run as root, so it runs
# as a system user that must be able to traverse every parent of its directories.
#
# Environment overrides:
#   SECMON_KAFKA_BOOTSTRAP  set -> do not start Kafka (use your own cluster)
#   SECMON_ES_URL           set -> do not start Elasticsearch
#   SECMON_SERVICES_DIR     where everything lives
#   KAFKA_VERSION ES_VERSION KAFKA_PORT KAFKA_CONTROLLER_PORT ES_PORT ES_TRANSPORT_PORT
#   KAFKA_JAVA_HOME ES_JAVA_HOME (default: newest Java 21+ JDK under /usr/lib/jvm)
#   KAFKA_HEAP_OPTS ES_HEAP KAFKA_READY_TIMEOUT ES_READY_TIMEOUT SECMON_ES_USER
#
# Secured mode: a CA and a server certificate are made with openssl at the first start, the SCRAM
# users (admin, secmon) are written by the storage format, the ES user secmon goes into the file
# realm. Every secret is a file under $SECMON_SERVICES_DIR/secrets (mode 0700), never an argument:
#   ca.crt                      the CA clients must trust
#   secmon_kafka, secmon_es     JSON secrets files for secmon (SECMON_SECRETS_DIR=<that dir>)
#   secure.env                  the non-secret settings (bootstrap, protocol, user, URL, CA paths)
set -euo pipefail

_args=()
for _a in "$@"; do
  if [[ "$_a" == --secure ]]; then SECMON_SERVICES_SECURE=1; else _args+=("$_a"); fi
done
set -- ${_args[@]+"${_args[@]}"}
SECURE="${SECMON_SERVICES_SECURE:-}"
[[ "$SECURE" == 0 ]] && SECURE=""

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------
KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"   # newest 3.9 patch on Maven Central; 4.1.1 also works
ES_VERSION="${ES_VERSION:-9.5.4}"         # newest 9.5 integ-test-zip on Maven Central
if [[ -n "$SECURE" ]]; then  # own ports: runs beside the plain pair
  KAFKA_PORT="${KAFKA_PORT:-9094}"
  KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9095}"
  ES_PORT="${ES_PORT:-9201}"
  ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-9301}"
fi
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
ES_PORT="${ES_PORT:-9200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-9300-9399}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}"
ES_HEAP="${ES_HEAP:-512m}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-120}"
ES_READY_TIMEOUT="${ES_READY_TIMEOUT:-180}"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"
MVN_DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

if [[ $EUID -eq 0 ]]; then
  SD_DEFAULT=/var/lib/secmon-services
else
  SD_DEFAULT="${XDG_CACHE_HOME:-$HOME/.cache}/secmon-services"
fi
[[ -n "$SECURE" ]] && SD_DEFAULT="$SD_DEFAULT-secure"
SD="${SECMON_SERVICES_DIR:-$SD_DEFAULT}"
SECRETS="$SD/secrets"
ES_SCHEME=http
[[ -n "$SECURE" ]] && ES_SCHEME=https
ES_USER="${SECMON_ES_USER:-secmon-es}"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TEMPLATES="$SCRIPT_DIR/services"

KAFKA_HOME="$SD/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_CONF="$SD/kafka-config"
KAFKA_DATA="$SD/data/kafka"
KAFKA_CLUSTER_ID_FILE="$SD/data/kafka-cluster-id"
KAFKA_LOG_DIR="$SD/logs/kafka"
KAFKA_CONSOLE="$SD/logs/kafka-console.log"
KAFKA_PIDFILE="$SD/run/kafka.pid"

ES_HOME="$SD/elasticsearch-$ES_VERSION"
ES_DATA="$SD/data/es"
ES_SNAPSHOTS="$SD/es-snapshots"
ES_LOG_DIR="$SD/logs/es"
ES_CONSOLE="$SD/logs/es-console.log"
ES_RUN="$SD/run/es"                 # writable by the ES user: ES writes its own pid file
ES_PIDFILE="$ES_RUN/es.pid"
ES_LAUNCHER_PIDFILE="$SD/run/es-launcher.pid"
ES_TMP="$SD/tmp/es"                 # ES_TMPDIR (else it leaves /tmp/elasticsearch-* behind)

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
say() { printf '[services] %s\n' "$*"; }
warn() { printf '[services] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[services] ERROR: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '[services]        %s\n' "$line" >&2; done
  exit 1
}

# mark_logs FILE...: remember the current size of each log, so that a failure report shows only
# what this start wrote (tail_log).
declare -A LOG_MARK=()
mark_logs() {
  local f
  for f in "$@"; do
    LOG_MARK[$f]="$(stat -c %s "$f" 2>/dev/null || echo 0)"
  done
}

# tail_log LABEL FILE...: print (to stderr) the last lines each log got since mark_logs
tail_log() {
  local label="$1" f off size
  shift
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    off="${LOG_MARK[$f]:-0}"
    size="$(stat -c %s "$f" 2>/dev/null || echo 0)"
    ((size < off)) && off=0   # rotated
    ((size > off)) || continue
    printf '\n----- %s: %s (last 40 new lines) -----\n' "$label" "$f" >&2
    tail -c "+$((off + 1))" "$f" | tail -n 40 >&2
  done
  printf -- '-----\n' >&2
}

now() { date +%s; }

# alive PID: the process exists and is not a zombie (exited but not yet reaped)
alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [[ -n "$st" && "$st" != Z ]]
}

# pid_of PIDFILE PATTERN: print the pid if the process is alive and its command line
# matches PATTERN (guards against pid reuse); else return 1.
pid_of() {
  local pidfile="$1" pattern="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [[ -n "$pid" ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  printf '%s\n' "$pid"
}

kafka_pid() { pid_of "$KAFKA_PIDFILE" "kafka.Kafka"; }
es_pid() { pid_of "$ES_PIDFILE" "org.elasticsearch"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

who_listens() {
  if command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n 1 || true
  fi
}

require_port_free() {  # PORT WHAT ENVVAR
  if port_open "$1"; then
    die "port $1 ($2) is already in use by another process ($(who_listens "$1"))." \
      "Stop that process, or pick another port with $3=..., or point the tests at an existing" \
      "service with SECMON_KAFKA_BOOTSTRAP / SECMON_ES_URL."
  fi
}

# Kafka readiness: a Metadata v4 request (supported by 0.11 .. 4.x) must come back listing at
# least one broker. Pure bash (/dev/tcp), so it costs no JVM start.
kafka_probe() {
  local port="${1:-$KAFKA_PORT}" host="${2:-127.0.0.1}" bytes
  if [[ -n "$SECURE" ]]; then  # SASL_SSL: the listener opens last; a verified TLS handshake = up
    timeout 5 openssl s_client -connect "$host:$port" -CAfile "$SECRETS/ca.crt" -verify_return_error \
      -verify_ip "$host" </dev/null >/dev/null 2>&1
    return
  fi
  bytes="$(timeout 5 bash -c '
      exec 3<>"/dev/tcp/$0/$1" || exit 1
      # size=20 | api_key=3 (Metadata) | version=4 | correlation=1 | client_id="probe"
      # | topics=[] | allow_auto_topic_creation=false
      printf "\x00\x00\x00\x14\x00\x03\x00\x04\x00\x00\x00\x01\x00\x05probe\x00\x00\x00\x00\x00" >&3
      head -c 16 <&3 | od -An -tu1 -v' "$host" "$port" 2>/dev/null)" || return 1
  # response: size(4) correlation(4) throttle_ms(4) broker_count(4)
  local -a b
  read -r -d '' -a b <<<"$bytes" || true
  [[ ${#b[@]} -eq 16 ]] || return 1
  [[ "${b[4]} ${b[5]} ${b[6]} ${b[7]}" == "0 0 0 1" ]] || return 1
  ((b[12] * 16777216 + b[13] * 65536 + b[14] * 256 + b[15] >= 1))
}

es_probe() {  # URL -> 0 if cluster health is yellow or green
  local url="${1:-http://127.0.0.1:$ES_PORT}" out auth=()
  if [[ -n "$SECURE" ]]; then  # the password comes from a curl config file
    url="${1:-https://127.0.0.1:$ES_PORT}"
    auth=(--cacert "$SECRETS/ca.crt" -K "$SECRETS/es-secmon.curl")
  fi
  out="$(curl -s -m 10 ${auth[@]+"${auth[@]}"} "$url/_cluster/health?wait_for_status=yellow&timeout=5s" 2>/dev/null)" || return 1
  [[ "$out" == *'"timed_out":false'* ]] && [[ "$out" =~ \"status\":\"(green|yellow)\" ]]
}

# Install a missing command from Debian packages (we may run on a fresh machine).
ensure_cmd() {  # CMD DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing $2 (needed: $1) with apt-get..."
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >"$SD/logs/apt-$2.log" 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$SD/logs/apt-$2.log" 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >>"$SD/logs/apt-$2.log" 2>&1 ||
        { tail_log apt "$SD/logs/apt-$2.log"; die "could not install $2 with apt-get (see above)."; }
    fi
    command -v "$1" >/dev/null 2>&1 || die "installed $2 but '$1' is still not on PATH."
  else
    die "'$1' is required but not installed." "Install the Debian package '$2' (or equivalent)."
  fi
}

# java_major JAVA_HOME -> major version number (e.g. 17, 25)
java_major() {
  local home="$1" v=""
  [[ -x "$home/bin/java" ]] || return 1
  if [[ -f "$home/release" ]]; then
    v="$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release")"
  fi
  if [[ -z "$v" ]]; then
    v="$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  fi
  [[ -n "$v" ]] || return 1
  v="${v#1.}"
  printf '%s\n' "${v%%[.+_-]*}"
}

# find_jdk MIN_MAJOR [PREFERRED_HOME...] -> a java home whose major >= MIN (preferred ones
# first, then the newest under /usr/lib/jvm)
find_jdk() {
  local min="$1" h m best="" bestm=0
  shift
  for h in "$@"; do
    [[ -n "$h" ]] || continue
    m="$(java_major "$h" 2>/dev/null)" || continue
    if ((m >= min)); then printf '%s\n' "$h"; return 0; fi
  done
  for h in /usr/lib/jvm/*/; do
    h="${h%/}"
    [[ -L "$h" ]] && continue
    m="$(java_major "$h" 2>/dev/null)" || continue
    if ((m >= min && m > bestm)); then best="$h"; bestm="$m"; fi
  done
  [[ -n "$best" ]] || return 1
  printf '%s\n' "$best"
}

kafka_java_home() {
  local min=11 path_home=""
  [[ "$KAFKA_VERSION" == 3.* ]] || min=17
  if command -v java >/dev/null 2>&1; then
    path_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  fi
  if [[ -n "${KAFKA_JAVA_HOME:-}" ]]; then
    find_jdk "$min" "$KAFKA_JAVA_HOME" >/dev/null ||
      die "KAFKA_JAVA_HOME=$KAFKA_JAVA_HOME is not a Java $min+ installation."
    printf '%s\n' "$KAFKA_JAVA_HOME"
    return
  fi
  if ! find_jdk "$min" "${JAVA_HOME:-}" "$path_home"; then
    # maven pulls a JDK too; a fresh Debian machine gets Java 17 this way
    ensure_cmd java openjdk-17-jdk-headless >&2
    path_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    find_jdk "$min" "$path_home" || die "no Java $min+ found for Kafka $KAFKA_VERSION." \
      "Install one (apt-get install openjdk-17-jdk-headless) or set KAFKA_JAVA_HOME."
  fi
}

es_java_home() {
  if [[ -n "${ES_JAVA_HOME:-}" ]]; then
    find_jdk 21 "$ES_JAVA_HOME" >/dev/null ||
      die "ES_JAVA_HOME=$ES_JAVA_HOME is not a Java 21+ installation (Elasticsearch 9 needs 21+)."
    printf '%s\n' "$ES_JAVA_HOME"
    return
  fi
  find_jdk 21 "${JAVA_HOME:-}" && return 0
  die "Elasticsearch $ES_VERSION needs a Java 21+ JDK and none was found under /usr/lib/jvm." \
    "This distribution has no bundled JDK. Install a Java 21+ JDK (e.g. Temurin 21/25 under" \
    "/usr/lib/jvm/) and/or set ES_JAVA_HOME=/path/to/jdk, or use SECMON_ES_URL for an existing node."
}

setup_dirs() {
  mkdir -p "$SD" "$SD/logs" "$SD/run" "$SD/data" "$SD/tmp"
  # the ES user must be able to traverse into $SD (and every parent of it)
  chmod 755 "$SD" "$SD/data" "$SD/logs" "$SD/run" 2>/dev/null || true
}

with_lock() {  # serialise up/down/reset between concurrent callers
  exec 9>"$SD/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 600 9 || die "timed out waiting for another services.sh run (lock $SD/.lock)."
  fi
}

# stop_pid LABEL PID: SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL
stop_pid() {
  local label="$1" pid="$2" t0
  t0="$(now)"
  kill -TERM "$pid" 2>/dev/null || return 0
  while alive "$pid"; do
    if (($(now) - t0 >= STOP_TIMEOUT)); then
      warn "$label (pid $pid) still running after ${STOP_TIMEOUT}s: sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  say "$label stopped (pid $pid, $(($(now) - t0))s)"
}

# launch_bg PIDFILE DIR LOG CMD...: start CMD detached from us (own session via setsid, nohup,
# stdin /dev/null, output appended to LOG, our lock fd 9 closed so the service never holds the
# lock) with DIR as working directory. The inner shell writes its own pid, then execs CMD, so
# PIDFILE holds CMD's pid. Prints that pid.
launch_bg() {
  local pidfile="$1" dir="$2" log="$3" _
  shift 3
  rm -f "$pidfile"
  nohup setsid bash -c 'echo $$ >"$0"; cd "$1" || exit 1; shift; exec "$@"' \
    "$pidfile" "$dir" "$@" >>"$log" 2>&1 </dev/null 9>&- &
  for _ in $(seq 1 100); do
    [[ -s "$pidfile" ]] && break
    sleep 0.05
  done
  [[ -s "$pidfile" ]] || return 1
  tr -dc '0-9' <"$pidfile"
}

render() {  # TEMPLATE OUT KEY=VALUE...
  local tpl="$1" out="$2" kv key val content
  shift 2
  [[ -f "$tpl" ]] || die "template $tpl is missing (is scripts/services/ complete?)"
  content="$(<"$tpl")"
  for kv in "$@"; do
    key="${kv%%=*}"
    val="${kv#*=}"
    content="${content//@$key@/$val}"
  done
  printf '%s\n' "$content" >"$out.tmp"
  mv "$out.tmp" "$out"
}

# ---------------------------------------------------------------------------------------------
# Secured mode: CA, certificates, passwords (made once per SECMON_SERVICES_DIR, kept on restarts)
# ---------------------------------------------------------------------------------------------
new_password() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-32; }

ensure_secrets() {
  ensure_cmd openssl openssl
  mkdir -p "$SECRETS"
  chmod 700 "$SECRETS"
  local f
  for f in kafka-admin kafka-secmon kafka-keystore es-secmon; do
    [[ -s "$SECRETS/$f.password" ]] || (umask 077 && new_password >"$SECRETS/$f.password")
  done
  if [[ ! -s "$SECRETS/server.crt" ]]; then
    say "secure: making a CA and a server certificate (127.0.0.1, localhost) with openssl..."
    (
      umask 077
      cd "$SECRETS"
      openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 90 -subj "/CN=secmon test CA" \
        -keyout ca.key -out ca.crt
      openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" -keyout server.key -out server.csr
      printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
        "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" >server.ext
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 90 -sha256 \
        -extfile server.ext -out server.crt
      openssl pkcs12 -export -in server.crt -inkey server.key -certfile ca.crt -name kafka \
        -out kafka.p12 -passout file:kafka-keystore.password
      chmod 644 ca.crt
    ) >"$SD/logs/openssl.log" 2>&1 || { tail_log openssl "$SD/logs/openssl.log"; die "openssl failed (log above)."; }
  fi
  # curl reads the password from here (-K), never from its arguments
  (umask 077 && printf 'user = "secmon:%s"\n' "$(<"$SECRETS/es-secmon.password")" >"$SECRETS/es-secmon.curl")
  (umask 077 && printf '{"password": "%s"}\n' "$(<"$SECRETS/es-secmon.password")" >"$SECRETS/secmon_es")
  # secmon's own secrets files (SECMON_SECRETS_DIR=$SECRETS) and the non-secret settings
  (umask 077 && printf '{"sasl_password": "%s"}\n' "$(<"$SECRETS/kafka-secmon.password")" >"$SECRETS/secmon_kafka")
  cat >"$SECRETS/secure.env" <<ENV
SECMON_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
SECMON_KAFKA_SECURITY_PROTOCOL=SASL_SSL
SECMON_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
SECMON_KAFKA_SASL_USERNAME=secmon
SECMON_KAFKA_SSL_CAFILE=$SECRETS/ca.crt
SECMON_ES_URL=https://127.0.0.1:$ES_PORT
SECMON_ES_CA_CERTS=$SECRETS/ca.crt
SECMON_ES_USERNAME=secmon
SECMON_SECRETS_DIR=$SECRETS
ENV
}

# secure_kafka_config: the SASL_SSL listener, written over the plain rendering (passwords inside:
# the file lives in the secrets dir)
secure_kafka_config() {
  local conf="$1"
  sed -i -e "s#^listeners=.*#listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT#" \
    -e "s#^advertised.listeners=.*#advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT#" \
    -e "s#^inter.broker.listener.name=.*#inter.broker.listener.name=SASL_SSL#" \
    -e "s#^listener.security.protocol.map=.*#listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT#" "$conf"
  (umask 077 && cat >>"$conf" <<CONF

# secured mode (scripts/services.sh --secure): SASL_SSL with SCRAM-SHA-512 only
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(<"$SECRETS/kafka-admin.password")";
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECRETS/kafka.p12
ssl.keystore.password=$(<"$SECRETS/kafka-keystore.password")
ssl.key.password=$(<"$SECRETS/kafka-keystore.password")
ssl.truststore.type=PEM
ssl.truststore.location=$SECRETS/ca.crt
ssl.client.auth=none
ssl.endpoint.identification.algorithm=https
CONF
  )
}

# secure_es_setup: HTTPS + x-pack security in elasticsearch.yml, the certificates in config/certs,
# the user secmon in the file realm (a PBKDF2 hash made from the password file). The integ-test
# zip has no analysis-common module, so the .security index (native users, API keys) cannot be
# created ("Unknown filter type [pattern_capture]"): the file realm and basic auth over TLS it is.
secure_es_setup() {
  local yml="$ES_HOME/config/elasticsearch.yml"
  ensure_cmd python3 python3
  sed -i 's#^xpack.security.enabled: false#xpack.security.enabled: true#' "$yml"
  cat >>"$yml" <<YML

# secured mode (scripts/services.sh --secure)
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.key: certs/server.key
xpack.security.http.ssl.certificate: certs/server.crt
xpack.security.http.ssl.certificate_authorities: ["certs/ca.crt"]
xpack.security.authc.realms.file.file1.order: 0
YML
  mkdir -p "$ES_HOME/config/certs"
  cp "$SECRETS/server.key" "$SECRETS/server.crt" "$SECRETS/ca.crt" "$ES_HOME/config/certs/"
  python3 -c '
import base64, hashlib, os, sys
password = open(sys.argv[1]).read().strip().encode()
salt, cost = os.urandom(32), 10000
digest = hashlib.pbkdf2_hmac("sha512", password, salt, cost, 32)
print("secmon:{PBKDF2}%d$%s$%s" % (cost, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))
' "$SECRETS/es-secmon.password" >"$ES_HOME/config/users"
  printf 'superuser:secmon\n' >"$ES_HOME/config/users_roles"
  chmod 700 "$ES_HOME/config/certs"
  chmod 600 "$ES_HOME/config/certs/"* "$ES_HOME/config/users" "$ES_HOME/config/users_roles"
  [[ $EUID -eq 0 ]] && chown -R "$ES_USER:" "$ES_HOME/config"
  return 0
}

# ---------------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------------
fetch_kafka() {
  [[ -f "$KAFKA_HOME/.complete" ]] && return 0
  ensure_cmd mvn maven
  local build="$SD/tmp/kafka-build.$$" mlog="$SD/logs/mvn-kafka-$KAFKA_VERSION.log" t0
  t0="$(now)"
  say "fetching kafka $KAFKA_VERSION jars from Maven Central (maven, cached in ~/.m2)..."
  rm -rf "$build" "$KAFKA_HOME"
  mkdir -p "$build"
  cp "$TEMPLATES/kafka-pom.xml" "$build/pom.xml"
  local -a props=("-Dkafka.version=$KAFKA_VERSION")
  (($(kafka_major) >= 4)) && props+=(-Dkafka4)
  if ! (cd "$build" && mvn -B -q -Dstyle.color=never -f pom.xml "${props[@]}" \
    "$MVN_DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$build/libs") >"$mlog" 2>&1; then
    tail_log maven "$mlog"
    rm -rf "$build"
    die "maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (log: $mlog)." \
      "Check that Maven Central is reachable and that KAFKA_VERSION exists there."
  fi
  if (($(kafka_major) >= 4)); then
    # Kafka 4.x ships log4j-core but no slf4j binding: add the one matching log4j-api/slf4j-api
    local api binding=log4j-slf4j-impl
    api="$(find "$build/libs" -name 'log4j-api-*.jar' | sed 's/.*log4j-api-\(.*\)\.jar/\1/' | head -n 1)"
    [[ -n "$api" ]] || die "kafka $KAFKA_VERSION resolved without log4j-api: cannot pick a logging backend."
    compgen -G "$build/libs/slf4j-api-2.*" >/dev/null && binding=log4j-slf4j2-impl
    say "adding org.apache.logging.log4j:$binding:$api (slf4j binding)..."
    if ! (cd "$build" && mvn -B -q -Dstyle.color=never "$MVN_DEPENDENCY_PLUGIN:copy" \
      -Dartifact="org.apache.logging.log4j:$binding:$api" -DoutputDirectory="$build/libs") \
      >>"$mlog" 2>&1; then
      tail_log maven "$mlog"
      die "maven could not fetch org.apache.logging.log4j:$binding:$api (log: $mlog)."
    fi
  fi
  [[ -f "$build/libs/kafka_2.13-$KAFKA_VERSION.jar" ]] ||
    die "maven ran but kafka_2.13-$KAFKA_VERSION.jar was not copied (log: $mlog)."
  mkdir -p "$KAFKA_HOME"
  mv "$build/libs" "$KAFKA_LIBS"
  rm -rf "$build"
  touch "$KAFKA_HOME/.complete"
  say "kafka $KAFKA_VERSION: $(ls "$KAFKA_LIBS" | wc -l) jars in $KAFKA_LIBS ($(($(now) - t0))s)"
}

kafka_cluster_id() {
  local id=""
  if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
    id="$(sed -n 's/^cluster\.id=//p' "$KAFKA_DATA/meta.properties")"
  fi
  if [[ -z "$id" && -s "$KAFKA_CLUSTER_ID_FILE" ]]; then
    id="$(<"$KAFKA_CLUSTER_ID_FILE")"
  fi
  while [[ -z "$id" || "$id" == -* ]]; do
    # 22-char URL-safe base64 of 16 random bytes, like Kafka's Uuid.randomUuid()
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)"
  done
  printf '%s\n' "$id" >"$KAFKA_CLUSTER_ID_FILE"
  printf '%s\n' "$id"
}

kafka_major() { printf '%s\n' "${KAFKA_VERSION%%.*}"; }

# logging: Kafka 3.x logs through reload4j (log4j 1.x), 4.x through log4j2
kafka_log_setup() {
  if (($(kafka_major) >= 4)); then
    cp "$TEMPLATES/kafka-log4j2.properties" "$KAFKA_CONF/log4j2.properties"
    KAFKA_LOG_OPTS=("-Dlog4j2.configurationFile=$KAFKA_CONF/log4j2.properties")
  else
    cp "$TEMPLATES/kafka-log4j.properties" "$KAFKA_CONF/log4j.properties"
    KAFKA_LOG_OPTS=("-Dlog4j.configuration=file:$KAFKA_CONF/log4j.properties")
  fi
  KAFKA_LOG_OPTS+=("-Dkafka.logs.dir=$KAFKA_LOG_DIR")
}

kafka_jvm_opts() {
  # shellcheck disable=SC2206
  KAFKA_JVM=($KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "${KAFKA_LOG_OPTS[@]}")
}

wait_kafka() {  # PID T0
  local pid="$1" t0="$2" last=0
  say "waiting for kafka on 127.0.0.1:$KAFKA_PORT (timeout ${KAFKA_READY_TIMEOUT}s)..."
  while ! kafka_probe; do
    if ! alive "$pid"; then
      tail_log kafka "$KAFKA_CONSOLE" "$KAFKA_LOG_DIR/server.log"
      rm -f "$KAFKA_PIDFILE"
      die "kafka exited during startup (see the log tail above; full logs: $KAFKA_LOG_DIR/)." \
        "If the data dir is damaged or from another version: scripts/services.sh reset kafka"
    fi
    if (($(now) - t0 >= KAFKA_READY_TIMEOUT)); then
      tail_log kafka "$KAFKA_CONSOLE" "$KAFKA_LOG_DIR/server.log"
      stop_pid kafka "$pid"
      rm -f "$KAFKA_PIDFILE"
      die "kafka did not become ready within ${KAFKA_READY_TIMEOUT}s (stopped it; log tail above)." \
        "Retry with a longer KAFKA_READY_TIMEOUT=..., or look at $KAFKA_LOG_DIR/server.log"
    fi
    if (($(now) - t0 - last >= 15)); then
      last=$(($(now) - t0))
      say "  ... still waiting for kafka (${last}s)"
    fi
    sleep 0.5
  done
  say "kafka ready on 127.0.0.1:$KAFKA_PORT (pid $pid, $(($(now) - t0))s)"
}

up_kafka() {
  if [[ -n "${SECMON_KAFKA_BOOTSTRAP:-}" ]]; then
    say "kafka: SECMON_KAFKA_BOOTSTRAP=$SECMON_KAFKA_BOOTSTRAP is set: not starting a local broker"
    return 0
  fi
  local pid t0 java_home cid
  t0="$(now)"
  if pid="$(kafka_pid)"; then
    if kafka_probe; then
      say "kafka already up on 127.0.0.1:$KAFKA_PORT (pid $pid)"
      return 0
    fi
    wait_kafka "$pid" "$t0"   # started by someone else a moment ago, or busy
    return 0
  fi
  rm -f "$KAFKA_PIDFILE"
  require_port_free "$KAFKA_PORT" "kafka" KAFKA_PORT
  require_port_free "$KAFKA_CONTROLLER_PORT" "kafka controller" KAFKA_CONTROLLER_PORT

  java_home="$(kafka_java_home)"
  fetch_kafka
  mkdir -p "$KAFKA_CONF" "$KAFKA_DATA" "$KAFKA_LOG_DIR"
  local server_conf="$KAFKA_CONF/server.properties"
  [[ -n "$SECURE" ]] && ensure_secrets && server_conf="$SECRETS/kafka-server.properties"
  render "$TEMPLATES/kafka-server.properties.in" "$server_conf" \
    "KAFKA_PORT=$KAFKA_PORT" "KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT" \
    "KAFKA_DATA_DIR=$KAFKA_DATA"
  [[ -n "$SECURE" ]] && secure_kafka_config "$server_conf"
  kafka_log_setup
  kafka_jvm_opts

  if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
    cid="$(kafka_cluster_id)"
    say "formatting kafka storage in $KAFKA_DATA (cluster id $cid)..."
    # the SCRAM users go in with the format; java reads them from an @argfile (not a visible argument)
    local format_args=(kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$server_conf")
    if [[ -n "$SECURE" ]]; then
      (umask 077 && printf '%s\n' "${format_args[@]}" \
        "--add-scram" "SCRAM-SHA-512=[name=admin,password=$(<"$SECRETS/kafka-admin.password")]" \
        "--add-scram" "SCRAM-SHA-512=[name=secmon,password=$(<"$SECRETS/kafka-secmon.password")]" \
        >"$SECRETS/kafka-format.args")
      format_args=("@$SECRETS/kafka-format.args")
    fi
    if ! "$java_home/bin/java" -Xmx256m "${KAFKA_LOG_OPTS[@]}" \
      -cp "$KAFKA_LIBS/*" "${format_args[@]}" \
      >"$SD/logs/kafka-format.log" 2>&1; then
      tail_log kafka-format "$SD/logs/kafka-format.log"
      die "formatting the kafka storage failed (log above)." \
        "If $KAFKA_DATA is from another Kafka version: scripts/services.sh reset kafka"
    fi
  fi

  say "starting kafka $KAFKA_VERSION (java $(java_major "$java_home"), logs in $KAFKA_LOG_DIR/)..."
  mark_logs "$KAFKA_CONSOLE" "$KAFKA_LOG_DIR/server.log"
  printf '\n===== %s starting kafka %s =====\n' "$(date -Is)" "$KAFKA_VERSION" >>"$KAFKA_CONSOLE"
  local t_launch
  t_launch="$(now)"
  pid="$(launch_bg "$KAFKA_PIDFILE" "$SD" "$KAFKA_CONSOLE" \
    "$java_home/bin/java" "${KAFKA_JVM[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka \
    "$server_conf")" ||
    die "kafka did not start (no pid file $KAFKA_PIDFILE)." "See $KAFKA_CONSOLE"
  wait_kafka "$pid" "$t_launch"
}

down_kafka() {
  local pid
  if pid="$(kafka_pid)"; then
    say "stopping kafka (pid $pid)..."
    stop_pid kafka "$pid"
  else
    say "kafka is not running"
  fi
  rm -f "$KAFKA_PIDFILE"
}

# ---------------------------------------------------------------------------------------------
# Elasticsearch
# ---------------------------------------------------------------------------------------------
ensure_es_user() {
  [[ $EUID -eq 0 ]] || return 0
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  say "creating system user $ES_USER (Elasticsearch refuses to run as root)..."
  useradd --system --user-group --no-create-home --home-dir "$SD" \
    --shell /usr/sbin/nologin "$ES_USER" ||
    die "could not create the system user $ES_USER (useradd failed)."
}

check_traversable() {  # every parent of $SD must be traversable by the ES user
  [[ $EUID -eq 0 ]] || return 0
  local d="$SD"
  while [[ "$d" != "/" && -n "$d" ]]; do
    if ! runuser -u "$ES_USER" -- test -x "$d"; then
      die "user $ES_USER cannot enter $d, a parent of SECMON_SERVICES_DIR=$SD." \
        "Use a directory every user can traverse (default /var/lib/secmon-services)," \
        "or chmod o+x $d."
    fi
    d="$(dirname "$d")"
  done
}

fetch_es() {
  [[ -f "$ES_HOME/.complete" ]] && return 0
  ensure_cmd mvn maven
  ensure_cmd unzip unzip
  local build="$SD/tmp/es-build.$$" mlog="$SD/logs/mvn-es-$ES_VERSION.log" t0
  local gav="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
  t0="$(now)"
  say "fetching elasticsearch $ES_VERSION ($gav) from Maven Central (~100 MB, cached in ~/.m2)..."
  rm -rf "$build" "$ES_HOME"
  mkdir -p "$build"
  if ! (cd "$build" && mvn -B -q -Dstyle.color=never "$MVN_DEPENDENCY_PLUGIN:copy" \
    -Dartifact="$gav" -DoutputDirectory="$build" -Dmdep.overWriteReleases=true) >"$mlog" 2>&1; then
    tail_log maven "$mlog"
    rm -rf "$build"
    die "maven could not fetch $gav (log: $mlog)." \
      "Check that Maven Central is reachable and that ES_VERSION=$ES_VERSION is published as" \
      "integ-test-zip (not every patch release is; e.g. 9.5.1 and 9.5.5 are missing)."
  fi
  say "unpacking elasticsearch $ES_VERSION..."
  unzip -q "$build/elasticsearch-$ES_VERSION.zip" -d "$build/x" ||
    die "could not unzip $build/elasticsearch-$ES_VERSION.zip"
  [[ -x "$build/x/elasticsearch-$ES_VERSION/bin/elasticsearch" ]] ||
    die "unexpected layout in elasticsearch-$ES_VERSION.zip (no bin/elasticsearch)."
  mv "$build/x/elasticsearch-$ES_VERSION" "$ES_HOME"
  rm -rf "$build"
  touch "$ES_HOME/.complete"
  say "elasticsearch $ES_VERSION unpacked in $ES_HOME ($(($(now) - t0))s)"
}

wait_es() {  # LAUNCHER_PID T0
  local lpid="$1" t0="$2" last=0 spid=""
  say "waiting for elasticsearch on $ES_SCHEME://127.0.0.1:$ES_PORT (timeout ${ES_READY_TIMEOUT}s)..."
  while ! es_probe; do
    spid="$(es_pid)" || spid=""
    # with -d the launcher exits once the node is up; it exiting with the node down = failure
    if [[ -z "$spid" ]] && ! alive "$lpid"; then
      sleep 1
      if ! es_pid >/dev/null; then
        tail_log elasticsearch "$ES_CONSOLE" "$ES_LOG_DIR/secmon-test.log"
        rm -f "$ES_LAUNCHER_PIDFILE"
        die "elasticsearch exited during startup (see the log tail above; logs: $ES_LOG_DIR/)." \
          "If the data dir is from another ES version or damaged: scripts/services.sh reset es"
      fi
    fi
    if (($(now) - t0 >= ES_READY_TIMEOUT)); then
      tail_log elasticsearch "$ES_CONSOLE" "$ES_LOG_DIR/secmon-test.log"
      [[ -n "$spid" ]] && stop_pid elasticsearch "$spid"
      alive "$lpid" && stop_pid "elasticsearch launcher" "$lpid"
      rm -f "$ES_LAUNCHER_PIDFILE"
      die "elasticsearch did not become ready within ${ES_READY_TIMEOUT}s (stopped it; log tail above)." \
        "Retry with a longer ES_READY_TIMEOUT=..., or look at $ES_LOG_DIR/secmon-test.log"
    fi
    if (($(now) - t0 - last >= 15)); then
      last=$(($(now) - t0))
      say "  ... still waiting for elasticsearch (${last}s)"
    fi
    sleep 1
  done
  spid="$(es_pid)" || spid="?"
  rm -f "$ES_LAUNCHER_PIDFILE"
  say "elasticsearch ready on $ES_SCHEME://127.0.0.1:$ES_PORT (pid $spid, $(($(now) - t0))s)"
}

up_es() {
  if [[ -n "${SECMON_ES_URL:-}" ]]; then
    say "elasticsearch: SECMON_ES_URL=$SECMON_ES_URL is set: not starting a local node"
    return 0
  fi
  local pid lpid t0 java_home
  t0="$(now)"
  if pid="$(es_pid)"; then
    if es_probe; then
      say "elasticsearch already up on $ES_SCHEME://127.0.0.1:$ES_PORT (pid $pid)"
      return 0
    fi
    lpid="$(pid_of "$ES_LAUNCHER_PIDFILE" elasticsearch)" || lpid="$pid"
    wait_es "$lpid" "$t0"
    return 0
  fi
  if lpid="$(pid_of "$ES_LAUNCHER_PIDFILE" elasticsearch)"; then
    wait_es "$lpid" "$t0"   # another run is starting it right now
    return 0
  fi
  rm -f "$ES_PIDFILE" "$ES_LAUNCHER_PIDFILE"
  require_port_free "$ES_PORT" "elasticsearch http" ES_PORT

  ensure_cmd curl curl
  java_home="$(es_java_home)"
  ensure_es_user
  check_traversable
  fetch_es

  rm -rf "$ES_TMP"
  mkdir -p "$ES_DATA" "$ES_SNAPSHOTS" "$ES_LOG_DIR" "$ES_RUN" "$ES_TMP" "$ES_HOME/config/jvm.options.d"
  render "$TEMPLATES/elasticsearch.yml.in" "$ES_HOME/config/elasticsearch.yml" \
    "ES_PORT=$ES_PORT" "ES_TRANSPORT_PORT=$ES_TRANSPORT_PORT" "ES_DATA_DIR=$ES_DATA" \
    "ES_LOG_DIR=$ES_LOG_DIR" "ES_SNAPSHOT_DIR=$ES_SNAPSHOTS"
  printf '%s\n' "# written by scripts/services.sh: fixed heap (else it sizes from the machine RAM)" \
    "-Xms$ES_HEAP" "-Xmx$ES_HEAP" >"$ES_HOME/config/jvm.options.d/heap.options"
  if [[ $EUID -eq 0 ]]; then
    # ES writes its keystore into config/, gc logs into logs/, data/logs/snapshots everywhere
    chown -R "$ES_USER:" "$ES_HOME" "$ES_DATA" "$ES_SNAPSHOTS" "$ES_LOG_DIR" "$ES_RUN" "$ES_TMP"
  fi
  [[ -n "$SECURE" ]] && ensure_secrets && secure_es_setup

  say "starting elasticsearch $ES_VERSION (java $(java_major "$java_home") from $java_home," \
    "heap $ES_HEAP, logs in $ES_LOG_DIR/)..."
  mark_logs "$ES_CONSOLE" "$ES_LOG_DIR/secmon-test.log"
  printf '\n===== %s starting elasticsearch %s =====\n' "$(date -Is)" "$ES_VERSION" >>"$ES_CONSOLE"
  # -d: the launcher daemonizes the node and exits once it is up; -p: node pid file.
  # A clean environment so the caller's JAVA_HOME / ES_JAVA_OPTS / proxies do not leak in.
  local as_user=() t_launch
  [[ $EUID -eq 0 ]] && as_user=("$(command -v runuser)" -u "$ES_USER" --)
  t_launch="$(now)"
  lpid="$(launch_bg "$ES_LAUNCHER_PIDFILE" "$ES_HOME" "$ES_CONSOLE" \
    "${as_user[@]}" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$SD" LANG=C.UTF-8 \
    ES_JAVA_HOME="$java_home" ES_PATH_CONF="$ES_HOME/config" ES_TMPDIR="$ES_TMP" \
    "$ES_HOME/bin/elasticsearch" -d -p "$ES_PIDFILE")" ||
    die "elasticsearch did not start (no launcher pid)." "See $ES_CONSOLE"
  wait_es "$lpid" "$t_launch"
}

down_es() {
  local pid lpid
  if lpid="$(pid_of "$ES_LAUNCHER_PIDFILE" elasticsearch)"; then
    say "stopping elasticsearch launcher (pid $lpid)..."
    stop_pid "elasticsearch launcher" "$lpid"
  fi
  if pid="$(es_pid)"; then
    say "stopping elasticsearch (pid $pid)..."
    stop_pid elasticsearch "$pid"
  else
    say "elasticsearch is not running"
  fi
  rm -f "$ES_PIDFILE" "$ES_LAUNCHER_PIDFILE"
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
status_kafka() {  # prints one line; returns 0 if up
  local pid
  if [[ -n "${SECMON_KAFKA_BOOTSTRAP:-}" ]]; then
    local first="${SECMON_KAFKA_BOOTSTRAP%%,*}"
    first="${first#*://}"
    if kafka_probe "${first##*:}" "${first%:*}"; then
      echo "kafka $SECMON_KAFKA_BOOTSTRAP up (external, SECMON_KAFKA_BOOTSTRAP)"
      return 0
    fi
    echo "kafka $SECMON_KAFKA_BOOTSTRAP not answering (external, SECMON_KAFKA_BOOTSTRAP)"
    return 1
  fi
  if pid="$(kafka_pid)"; then
    if kafka_probe; then
      echo "kafka 127.0.0.1:$KAFKA_PORT up (pid $pid, $(rss "$pid"))"
      return 0
    fi
    echo "kafka 127.0.0.1:$KAFKA_PORT starting or not answering (pid $pid)"
    return 1
  fi
  echo "kafka 127.0.0.1:$KAFKA_PORT down"
  return 1
}

status_es() {
  local pid
  if [[ -n "${SECMON_ES_URL:-}" ]]; then
    if es_probe "${SECMON_ES_URL%/}"; then
      echo "elasticsearch $SECMON_ES_URL up (external, SECMON_ES_URL)"
      return 0
    fi
    echo "elasticsearch $SECMON_ES_URL not answering (external, SECMON_ES_URL)"
    return 1
  fi
  if pid="$(es_pid)"; then
    if es_probe; then
      echo "elasticsearch $ES_SCHEME://127.0.0.1:$ES_PORT up (pid $pid, $(rss "$pid"))"
      return 0
    fi
    echo "elasticsearch $ES_SCHEME://127.0.0.1:$ES_PORT starting or not answering (pid $pid)"
    return 1
  fi
  echo "elasticsearch $ES_SCHEME://127.0.0.1:$ES_PORT down"
  return 1
}

rss() {
  local kb
  kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null)" || kb=""
  [[ -n "$kb" ]] && echo "rss $((kb / 1024)) MiB" || echo "rss ?"
}

want() {  # want kafka|es : is this service selected by the command's argument?
  [[ -z "$TARGET" || "$TARGET" == "$1" ]]
}

cmd_status() {
  local rc=0
  if want kafka; then status_kafka || rc=3; fi
  if want es; then status_es || rc=3; fi
  return "$rc"
}

cmd_logs() {
  local follow=0 n=50 files=() f
  while (($#)); do
    case "$1" in
      -f | --follow) follow=1 ;;
      -n) n="$2"; shift ;;
      *) die "unknown logs option: $1" "usage: $0 logs [kafka|es] [-f] [-n N]" ;;
    esac
    shift
  done
  want kafka && files+=("$KAFKA_LOG_DIR/server.log" "$KAFKA_CONSOLE")
  want es && files+=("$ES_LOG_DIR/secmon-test.log" "$ES_CONSOLE")
  local existing=()
  for f in "${files[@]}"; do [[ -f "$f" ]] && existing+=("$f"); done
  ((${#existing[@]})) || { say "no logs yet under $SD/logs/"; return 0; }
  if ((follow)); then
    exec tail -n "$n" -F "${existing[@]}"
  fi
  for f in "${existing[@]}"; do
    printf '===== %s =====\n' "$f"
    tail -n "$n" "$f"
  done
}

cmd_reset() {
  want kafka && down_kafka
  want es && down_es
  if want kafka; then
    say "wiping kafka data ($KAFKA_DATA)"
    rm -rf "$KAFKA_DATA" "$KAFKA_CLUSTER_ID_FILE"
  fi
  if want es; then
    say "wiping elasticsearch data and snapshots ($ES_DATA, $ES_SNAPSHOTS)"
    rm -rf "$ES_DATA" "$ES_SNAPSHOTS"
  fi
  say "downloads kept ($SD/kafka-*, $SD/elasticsearch-*)"
}

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  (($#)) && shift
  TARGET=""
  case "${1:-}" in
    kafka) TARGET=kafka; shift ;;
    es | elasticsearch) TARGET=es; shift ;;
  esac
  case "$cmd" in
    up)
      (($# == 0)) || die "unexpected argument: $*" "usage: $0 up [kafka|es]"
      setup_dirs
      with_lock
      local t0 rc=0
      t0="$(now)"
      want kafka && up_kafka
      want es && up_es
      say "done in $(($(now) - t0))s:"
      cmd_status || rc=$?
      ((rc == 0)) || warn "a service above is not answering (see its line)"
      return "$rc"
      ;;
    down)
      [[ -d "$SD" ]] || { say "nothing to stop ($SD does not exist)"; return 0; }
      with_lock
      want kafka && down_kafka
      want es && down_es
      return 0
      ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    reset)
      [[ -d "$SD" ]] || { say "nothing to reset ($SD does not exist)"; return 0; }
      with_lock
      cmd_reset
      ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
