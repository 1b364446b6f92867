"""The CLI's one error boundary: expected failures as a line or two saying what is wrong and what to do.

Exit codes (README, "Exit codes"):
  0  done;  1  a check found a difference (`detectors test`, `routes test --expect`);
  2  usage or configuration;  3  input (unreadable, or more than half of it rejected);
  4  a service (Kafka, Elasticsearch, Kibana) unreachable;  75  temporary: try again later;
  130  interrupted (Ctrl-C);  143  stopped by SIGTERM (what was raised is written, as on Ctrl-C).
Anything not recognised here is a bug: it is re-raised, so its traceback reaches the terminal.

With the settings at hand, Kafka and Elasticsearch failures that a setting fixes (TLS, credentials)
are answered first, naming the setting; no setting value that can hold a secret is ever quoted.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pipeline.settings import SecmonSettings

EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_UNREACHABLE = 4
EXIT_TEMPORARY = 75
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process SIGTERM ended
START_SERVICES = "bash scripts/services.sh up"  # README, "Services"
PROBE_SECONDS = 3.0


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, systemd, docker stop): unwinds like Ctrl-C, so the same cleanup runs."""


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises Terminated in the main thread (commands with their own handler
    for it, the Faust worker, uvicorn, the shipper, replace this one)."""
    import signal

    def terminate(_signo: int, _frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, terminate)


class Failure(Exception):
    """An expected failure: what is wrong, what to do, and the exit code it maps to."""

    def __init__(self, what: str, todo: str = "", code: int = EXIT_USAGE) -> None:
        super().__init__(what)
        self.what, self.todo, self.code = what, todo, code

    def render(self) -> str:
        """`secmon: what` and, on a second line, what to do."""
        return f"secmon: {self.what}" + (f"\n  {self.todo}" if self.todo else "")


# the Kafka clients' exception names, by what they mean (kafka-python and aiokafka share them)
KAFKA_UNREACHABLE = frozenset({"NoBrokersAvailable", "KafkaTimeoutError", "KafkaConnectionError", "NodeNotReadyError"})
KAFKA_REFUSED_LOGIN = frozenset({"SaslAuthenticationFailedError", "AuthenticationFailedError", "IllegalSaslStateError"})
ES_UNREACHABLE = frozenset({"ConnectionError", "ConnectionTimeout", "TlsError", "ApiError", "TransportError"})


def explain(exc: BaseException, settings: SecmonSettings | None = None) -> Failure | None:
    """The Failure an exception stands for, or None when it is a bug; with `settings`, a TLS or
    credentials problem is answered with the setting to change before the generic answers."""
    if isinstance(exc, Failure):
        return exc
    if settings is not None:
        found = _setting_to_fix(exc, settings)
        if found is not None:
            return found
    for test, build in _RULES:
        if test(exc):
            return build(exc)
    return None


def _yaml(exc: BaseException) -> Failure:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{mark.name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else "YAML"
    problem = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
    return Failure(
        f"{where}: not valid YAML: {problem or exc}",
        "fix the file at that line (indentation, a missing ':' or an unclosed quote)",
    )


def _validation(exc: BaseException) -> Failure:
    errors = exc.errors()  # type: ignore[attr-defined]
    lines = [f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in errors[:10]]
    more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
    return Failure(
        f"invalid configuration ({exc.title}):\n  " + "\n  ".join(lines) + more,  # type: ignore[attr-defined]
        "fix these settings (see docs/configuration.md), then `secmon check`",
    )


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _os_error(exc: BaseException) -> Failure:
    assert isinstance(exc, OSError)
    name = exc.filename or "file"
    reason = exc.strerror or str(exc)
    if isinstance(exc, IsADirectoryError):
        return Failure(f"{name}: is a directory", f"pass the log files inside it, e.g. {name}/*.log", EXIT_INPUT)
    if isinstance(exc, FileNotFoundError):
        return Failure(f"{name}: no such file", "check the path (`ls` it); use - to read stdin", EXIT_INPUT)
    if isinstance(exc, PermissionError):
        return Failure(
            f"{name}: permission denied",
            "run as a user who can read it (e.g. in group adm for /var/log/auth.log) or copy it somewhere readable",
            EXIT_INPUT,
        )
    if exc.errno in DISK_FULL:  # a write's error names no file: say it was a write
        where = f"{exc.filename}: " if exc.filename else ""
        return Failure(
            f"{where}{reason} while writing",
            "free some space on that file system (or point the output or state directory elsewhere) and run again",
            EXIT_TEMPORARY,
        )
    if exc.errno == errno.EROFS and not exc.filename:
        return Failure(f"{reason} while writing", "check the output and state directories are writable", EXIT_INPUT)
    return Failure(f"{name}: {reason}", "check the path and its permissions", EXIT_INPUT)


def _kafka(exc: BaseException) -> Failure:
    return Failure(
        f"Kafka did not answer: {type(exc).__name__}: {exc}",
        f"start the services with `{START_SERVICES}` or set kafka.bootstrap (SECMON_KAFKA_BOOTSTRAP)",
        EXIT_UNREACHABLE,
    )


def _es(exc: BaseException) -> Failure:
    status = getattr(getattr(exc, "meta", None), "status", None)
    if status in (429, 502, 503, 504):
        return Failure(f"Elasticsearch is busy ({status})", "try again in a minute", EXIT_TEMPORARY)
    if type(exc).__name__ in ("ConnectionError", "ConnectionTimeout"):
        addr = str(exc).split("Cannot connect to host ", 1)[-1].split(" ", 1)[0] if "Cannot connect" in str(exc) else ""
        return Failure(
            f"Elasticsearch is unreachable{' at ' + addr if addr else ''} ({type(exc).__name__})",
            f"start the services with `{START_SERVICES}` (README, Services) or set es.url (SECMON_ES_URL)",
            EXIT_UNREACHABLE,
        )
    return Failure(
        f"Elasticsearch refused the request: {str(exc)[:200]}",
        "check es.url and the credentials (es.api_key or es.username/password in the secrets dir)",
        EXIT_USAGE,
    )


def _module_of(exc: BaseException) -> str:
    return type(exc).__module__.split(".")[0]


def _is_kafka(exc: BaseException) -> bool:
    return _module_of(exc) in ("kafka", "aiokafka")


def _is_es(exc: BaseException) -> bool:
    return _module_of(exc) in ("elastic_transport", "elasticsearch")


def _is_kafka_unreachable(exc: BaseException) -> bool:
    return _is_kafka(exc) and type(exc).__name__ in KAFKA_UNREACHABLE


def _is_es_unreachable(exc: BaseException) -> bool:
    return _is_es(exc) and type(exc).__name__ in ES_UNREACHABLE


def _is_yaml(exc: BaseException) -> bool:
    return _module_of(exc) == "yaml"


def _is_validation(exc: BaseException) -> bool:
    return type(exc).__name__ == "ValidationError" and _module_of(exc) in ("pydantic", "pydantic_core")


def _value(exc: BaseException) -> Failure:
    text = str(exc.args[0]) if exc.args else str(exc)
    return Failure(text, "", EXIT_USAGE)


_RULES = [
    (_is_yaml, _yaml),
    (_is_validation, _validation),
    (_is_kafka_unreachable, _kafka),
    (_is_es_unreachable, _es),
    (lambda e: isinstance(e, OSError) and (e.filename is not None or e.errno in (*DISK_FULL, errno.EROFS)), _os_error),
    (
        lambda e: isinstance(e, ConnectionError) or type(e).__name__ in ("URLError", "ClientConnectorError"),
        lambda e: Failure(
            f"a service did not answer: {e}",
            f"is it running? `{START_SERVICES}` starts Kafka and Elasticsearch; Kibana: see docs/dashboards.md",
            EXIT_UNREACHABLE,
        ),
    ),
    (
        lambda e: isinstance(e, (ValueError, KeyError)) or (isinstance(e, FileNotFoundError) and not e.filename),
        _value,
    ),  # our own errors say what to do (ModelError...)
]


def addresses(spec: str, default_port: int) -> list[tuple[str, int]]:
    """host:port pairs of a comma-separated bootstrap list or URL list."""
    found = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        parts = urlsplit(item if "://" in item else f"tcp://{item}")
        default = 443 if parts.scheme == "https" else default_port
        found.append((parts.hostname or "127.0.0.1", parts.port or default))
    return found


def require(service: str, spec: str, default_port: int, setting: str, timeout: float = PROBE_SECONDS) -> None:
    """Fail within `timeout` seconds, naming the address, when no address of `spec` accepts a connection."""
    tried = addresses(spec, default_port)
    for host, port in tried:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return
        except OSError:
            continue
    raise Failure(
        f"{service} is unreachable at {_join(tried)}",
        f"start the services with `{START_SERVICES}` (README, Services) or set {setting}",
        EXIT_UNREACHABLE,
    )


def _join(tried: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{h}:{p}" for h, p in tried)


def _setting_to_fix(exc: BaseException, settings: SecmonSettings) -> Failure | None:
    """A TLS or credentials problem of Kafka/Elasticsearch as the setting to fix, else None."""
    message = None
    if _is_es(exc):
        message = _es_setting(exc, settings)
    elif _is_kafka(exc):
        message = _kafka_setting(exc, settings)
    return None if message is None else Failure(message, "", EXIT_USAGE)


def _es_setting(exc: BaseException, settings: SecmonSettings) -> str | None:
    cfg, name = settings.es, type(exc).__name__
    if name == "AuthenticationException":
        how = "the API key (es.api_key)" if cfg.api_key else f"user {cfg.username!r} and its password (es.password)"
        return (
            f"Elasticsearch at {cfg.url} refused the credentials (401): check {how} in the secrets directory "
            "or environment"
        )
    if name == "AuthorizationException":
        return f"Elasticsearch at {cfg.url} denied the request (403): give the secmon user/API key the privileges"
    if name == "TlsError":
        return (
            f"TLS to Elasticsearch at {cfg.url} failed ({_tls_reason(exc)}): set es.ca_certs to the CA that signed "
            "the node's certificate"
        )
    return None  # unreachable and the rest: the generic rules


def _kafka_setting(exc: BaseException, settings: SecmonSettings) -> str | None:
    cfg, name = settings.kafka, type(exc).__name__
    if name in KAFKA_REFUSED_LOGIN:
        where = f"Kafka at {cfg.bootstrap} ({cfg.security_protocol})"
        return f"{where} refused the SASL login of user {cfg.sasl_username!r}: check kafka.sasl_password"
    if name not in KAFKA_UNREACHABLE or cfg.security_protocol not in ("SSL", "SASL_SSL"):
        return None  # plain unreachable: the generic rules
    where = f"Kafka at {cfg.bootstrap} ({cfg.security_protocol})"
    first = cfg.bootstrap.split(",")[0].strip()
    problem = _tls_probe(first, str(cfg.ssl_cafile) if cfg.ssl_cafile else None)
    if problem:
        return f"TLS to {where} failed ({problem}): set kafka.ssl_cafile to the CA that signed the broker's certificate"
    if cfg.security_protocol == "SASL_SSL":
        return (
            f"{where}: TLS works but the broker did not accept the connection; the usual cause is a wrong "
            f"SASL user {cfg.sasl_username!r} / kafka.sasl_password or mechanism "
            f"{cfg.sasl_mechanism or 'SCRAM-SHA-512'}"
        )
    return None


def _tls_probe(hostport: str, cafile: str | None) -> str | None:
    """Why a verified TLS handshake with host:port fails, or None when it succeeds."""
    host, _, port = hostport.rpartition(":")
    try:
        context = ssl.create_default_context(cafile=cafile)
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as err:
        return f"certificate not trusted: {err.verify_message}"
    except (OSError, ValueError) as err:
        return f"{type(err).__name__}: {err.strerror or err}" if isinstance(err, OSError) else str(err)


def _tls_reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in (
        "unable to get local issuer certificate",
        "self-signed certificate",
        "certificate has expired",
        "Hostname mismatch",
        "IP address mismatch",
    ):
        if marker.lower() in text.lower():
            return f"certificate not trusted: {marker}"
    return "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else "handshake failed"
