"""Token verification without services: good tokens give the caller, every bad one is refused."""

from __future__ import annotations

import pytest

from pipeline.service.auth import AuthError, Verifier
from pipeline.service.config import ServiceSettings
from tests.tokens import AUDIENCE, ISSUER, Idp

IDP = Idp()


@pytest.fixture(scope="module")
def verifier(tmp_path_factory) -> Verifier:
    path = IDP.write_jwks(tmp_path_factory.mktemp("idp") / "jwks.json")
    return Verifier(ServiceSettings(jwks_file=path, issuer=ISSUER, audience=AUDIENCE))


def test_rs256_and_es256_tokens_give_the_caller(verifier: Verifier) -> None:
    for alg in ("RS256", "ES256"):
        who = verifier.verify(IDP.token("u1", workspaces={"ws1": "admin", "ws2": "member"}, alg=alg))
        assert (who.id, who.administers("ws1"), who.administers("ws2"), who.staff) == ("u1", True, False, False)


def test_single_workspace_claims_are_accepted(verifier: Verifier) -> None:
    who = verifier.verify(IDP.token("u1", workspace="ws9", role="owner"))
    assert who.administers("ws9")


@pytest.mark.parametrize("kind", sorted(IDP.bad_tokens("u1", {"ws1": "admin"})))
def test_bad_tokens_are_refused(verifier: Verifier, kind: str) -> None:
    with pytest.raises(AuthError):
        verifier.verify(IDP.bad_tokens("u1", {"ws1": "admin"})[kind])


def test_pem_key_verifies_and_refuses_hs_signed_with_it(tmp_path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_bytes(IDP.public_pem())
    v = Verifier(ServiceSettings(jwks_file=pem, issuer=ISSUER))
    assert v.verify(IDP.token("u2", kid="rsa1")).id == "u2"
    with pytest.raises(AuthError):
        v.verify(IDP.bad_tokens("u2", {})["hs_rs_confusion"])


def test_symmetric_algorithms_and_keys_are_configuration_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        ServiceSettings(algorithms=("HS256",))
    jwks = tmp_path / "oct.json"
    jwks.write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    with pytest.raises(ValueError, match="symmetric"):
        Verifier(ServiceSettings(jwks_file=jwks))


def test_bad_claims_are_refused(verifier: Verifier) -> None:
    with pytest.raises(AuthError, match="claims"):
        verifier.verify(IDP.token("u1", workspaces={"ws1": "superuser"}))
    with pytest.raises(AuthError):
        verifier.verify(IDP.token("u1", workspaces={"bad id with spaces": "admin"}))


def test_jwks_url_is_fetched_and_keys_chosen_by_kid() -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.dumps(IDP.jwks()).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        v = Verifier(ServiceSettings(jwks_url=f"http://127.0.0.1:{server.server_port}/jwks", issuer=ISSUER))
        assert v.verify(IDP.token("u3", alg="ES256")).id == "u3"
        for kind in ("wrong_key", "alg_none", "hs_rs_confusion"):
            with pytest.raises(AuthError):
                v.verify(IDP.bad_tokens("u3", {})[kind])
    finally:
        server.shutdown()
