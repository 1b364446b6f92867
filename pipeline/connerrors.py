"""One-line answers for the connection failures a user fixes in configuration (TLS, credentials).

The clients raise long tracebacks ("Unable to bootstrap", TlsError(...)); these say which service,
what was wrong and what to change. No setting value that can hold a secret is ever quoted.
"""

from __future__ import annotations

import socket
import ssl

from pipeline.failures import EXIT_USAGE, Failure
from pipeline.settings import SecmonSettings


def connection_failure(exc: BaseException, settings: SecmonSettings) -> Failure | None:
    """A one-line Failure for a Kafka/Elasticsearch TLS or credentials problem, else None (failures.explain)."""
    module = type(exc).__module__
    message = None
    if module.startswith("elasticsearch") or module.startswith("elastic_transport"):
        message = _es(exc, settings)
    elif module.startswith("kafka") or module.startswith("aiokafka"):
        message = _kafka(exc, settings)
    # every answer here is a setting to fix (TLS, credentials); plain unreachable is failures.explain's
    return None if message is None else Failure(message, "", EXIT_USAGE)


def _es(exc: BaseException, settings: SecmonSettings) -> str | None:
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
    return None  # unreachable and the rest: failures.explain


def _kafka(exc: BaseException, settings: SecmonSettings) -> str | None:
    cfg, name = settings.kafka, type(exc).__name__
    if name not in (
        "KafkaTimeoutError",
        "NoBrokersAvailable",
        "KafkaConnectionError",
        "SaslAuthenticationFailedError",
        "AuthenticationFailedError",
        "IllegalSaslStateError",
    ):
        return None
    first = cfg.bootstrap.split(",")[0].strip()
    where = f"Kafka at {cfg.bootstrap} ({cfg.security_protocol})"
    if "Sasl" in name or "Authentication" in name:
        return f"{where} refused the SASL login of user {cfg.sasl_username!r}: check kafka.sasl_password"
    if cfg.security_protocol in ("SSL", "SASL_SSL"):
        problem = _tls_probe(first, str(cfg.ssl_cafile) if cfg.ssl_cafile else None)
        if problem:
            return f"TLS to {where} failed ({problem}): set kafka.ssl_cafile to the CA that signed the broker's certificate"
        if cfg.security_protocol == "SASL_SSL":
            return (
                f"{where}: TLS works but the broker did not accept the connection; the usual cause is a wrong "
                f"SASL user {cfg.sasl_username!r} / kafka.sasl_password or mechanism "
                f"{cfg.sasl_mechanism or 'SCRAM-SHA-512'}"
            )
    return None  # plain unreachable: failures.explain


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
