"""failures.explain with the settings: a TLS or credentials problem names the setting to fix.

Real client exception classes, a port nobody listens on for the TLS probe; no service involved.
"""

from __future__ import annotations

import socket
import ssl

from aiokafka.errors import AuthenticationFailedError, KafkaConnectionError
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig, TlsError
from elasticsearch import AuthenticationException

from pipeline.failures import EXIT_UNREACHABLE, EXIT_USAGE, explain
from pipeline.settings import SecmonSettings

SECRET = "s3cr3t-never-shown"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kafka(protocol: str) -> SecmonSettings:
    return SecmonSettings(
        kafka={
            "bootstrap": f"127.0.0.1:{_free_port()}",
            "security_protocol": protocol,
            "sasl_mechanism": "SCRAM-SHA-512" if protocol.startswith("SASL") else None,
            "sasl_username": "secmon" if protocol.startswith("SASL") else None,
            "sasl_password": SECRET if protocol.startswith("SASL") else None,
        }
    )


def test_refused_sasl_login_names_the_user_and_the_setting_not_the_password():
    failure = explain(AuthenticationFailedError("bad"), _kafka("SASL_SSL"))
    assert failure is not None and failure.code == EXIT_USAGE
    assert "user 'secmon'" in failure.what and "kafka.sasl_password" in failure.what
    assert SECRET not in failure.render()


def test_tls_kafka_that_does_not_answer_says_what_the_probe_found():
    failure = explain(KafkaConnectionError("down"), _kafka("SSL"))
    assert failure is not None and failure.code == EXIT_USAGE
    assert failure.what.startswith("TLS to Kafka at 127.0.0.1:") and "kafka.ssl_cafile" in failure.what


def test_plaintext_kafka_unreachable_is_the_generic_answer_with_or_without_settings():
    exc = KafkaConnectionError("down")
    for settings in (_kafka("PLAINTEXT"), None):
        failure = explain(exc, settings)
        assert failure is not None and failure.code == EXIT_UNREACHABLE
        assert "services.sh up" in failure.todo


def test_elasticsearch_credentials_and_tls_name_their_settings():
    settings = SecmonSettings(es={"url": "https://127.0.0.1:9201", "username": "secmon", "password": SECRET})
    meta = ApiResponseMeta(401, "1.1", HttpHeaders(), 0.0, NodeConfig("https", "127.0.0.1", 9201))
    refused = explain(AuthenticationException("unauthorized", meta, {}), settings)
    assert refused is not None and "(401)" in refused.what and "es.password" in refused.what
    assert SECRET not in refused.render()
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate in chain")
    tls = explain(TlsError("TLS error", errors=(cause,)), settings)
    assert tls is not None and "certificate not trusted: self-signed certificate" in tls.what
    assert "es.ca_certs" in tls.what
    assert explain(TlsError("x"), None) is not None  # without settings: the generic answer
