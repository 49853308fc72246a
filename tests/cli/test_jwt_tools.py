"""`cds-service keys`, `token` and `trust check` (issue 12, item 5), through the CLI and the API.

A key pair from `keys new` in a trust file, a token from `token`: the service answers 200 on
the URL the token names and 401 elsewhere; `trust check` says the same, and why; a PEM where a
JWK Set belongs is refused with the way out.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cds_service.cli import cli
from cds_service.commands.jwt_tools import load_key, mint_token
from cds_service.security.trust import SANDBOX_ISSUER, TrustConfigError, load_trust_file
from cds_service.settings import Settings
from tests.conftest import CONFORMANCE

SANDBOX = CONFORMANCE / "sandbox"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
ISS = "https://ehr.example.org"
BASE = "http://testserver"
DISCOVERY = f"{BASE}/cds-services"
HOOK = f"{BASE}/cds-services/muscle-cramps-order-select"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`keys new` + a trust file naming its JWK Set; CDS_* set as an operator would."""
    code, out, err = run("keys", "new", "--out", "keys", "--name", "test-ehr")
    assert code == 0, out + err
    trust = tmp_path / "trust.toml"
    trust.write_text(
        f'[[clients]]\nname = "test-ehr"\niss = "{ISS}"\nalgorithms = ["ES384"]\n'
        'jwks_file = "keys/test-ehr.jwks.json"\n'
    )
    monkeypatch.setenv("CDS_TRUST_FILE", str(trust))
    monkeypatch.setenv("CDS_PUBLIC_BASE_URL", BASE)
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path}/cds.db")
    return trust


def mint(url: str, key: str = "keys/test-ehr.private.jwk.json", *extra: str) -> str:
    code, out, err = run("token", url, "--key", key, "--iss", ISS, *extra)
    assert code == 0, out + err
    return out.strip()


@pytest.fixture
def api(
    trusted: Path, client_factory: Callable[..., TestClient], settings_factory: Callable[..., Settings]
) -> TestClient:
    return client_factory(settings_factory(auth_required=True, trust_file=trusted))


def test_keys_new_writes_a_private_jwk_and_a_public_set_with_one_kid(tmp_path: Path) -> None:
    code, out, _ = run("keys", "new", "--out", "k", "--name", "ehr")
    assert code == 0
    private = json.loads((tmp_path / "k" / "ehr.private.jwk.json").read_text())
    public = json.loads((tmp_path / "k" / "ehr.jwks.json").read_text())
    [key] = public["keys"]
    assert "d" in private and "d" not in key
    assert private["kid"] == key["kid"] and key["kid"] in out
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-384", "ES384", "sig")
    mode = stat.S_IMODE((tmp_path / "k" / "ehr.private.jwk.json").stat().st_mode)
    assert mode == 0o600
    assert 'jwks_file = "k/ehr.jwks.json"' in out  # the trust-file entry to paste


def test_keys_new_never_overwrites_without_force() -> None:
    assert run("keys", "new")[0] == 0
    code, _, err = run("keys", "new")
    assert code == 2 and "exists; use --force" in err
    assert run("keys", "new", "--force")[0] == 0


def test_keys_new_makes_rsa_keys_too(tmp_path: Path) -> None:
    assert run("keys", "new", "--alg", "RS384", "--kid", "rsa-1")[0] == 0
    [key] = json.loads((tmp_path / "cds-client.jwks.json").read_text())["keys"]
    assert (key["kty"], key["kid"], key["alg"]) == ("RSA", "rsa-1", "RS384")
    assert run("keys", "new", "--alg", "HS256", "--force")[0] == 2


def test_keys_jwks_turns_the_sandbox_pem_into_its_published_set() -> None:
    code, out, _ = run("keys", "jwks", str(SANDBOX / "ecprivkey.pem"), "--kid", SANDBOX_KID)
    assert code == 0
    [mine] = json.loads(out)["keys"]
    [published] = json.loads((SANDBOX / "jwks.json").read_text())["keys"]
    assert "d" not in mine
    assert {k: mine[k] for k in ("kty", "crv", "x", "y", "kid", "alg")} == {
        k: published[k] for k in ("kty", "crv", "x", "y", "kid", "alg")
    }


def test_a_token_from_keys_new_gets_200_on_its_url_and_401_elsewhere(api: TestClient) -> None:
    token = mint(DISCOVERY)
    assert api.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = api.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401  # single-use jti
    wrong_aud = api.post(
        "/cds-services/muscle-cramps-order-select",
        headers={"Authorization": f"Bearer {mint(DISCOVERY)}"},
        json={},
    )
    assert wrong_aud.status_code == 401


def test_the_token_carries_what_the_service_checks(trusted: Path) -> None:
    token = mint(HOOK, "keys/test-ehr.private.jwk.json", "--tenant", "t1", "--lifetime", "60")
    header, claims = (json.loads(_b64(part)) for part in token.split(".")[:2])
    kid = json.loads(Path("keys/test-ehr.jwks.json").read_text())["keys"][0]["kid"]
    assert header == {"alg": "ES384", "typ": "JWT", "kid": kid}
    assert claims["iss"] == ISS and claims["aud"] == HOOK and claims["tenant"] == "t1"
    assert claims["exp"] - claims["iat"] == 60 and claims["jti"]
    assert mint(HOOK) != mint(HOOK)  # a new jti each time


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_the_sandbox_pem_mints_tokens_the_sandbox_profile_accepts(
    client_factory: Callable[..., TestClient], settings_factory: Callable[..., Settings]
) -> None:
    client = client_factory(settings_factory(auth_required=True, profile="sandbox"))
    code, out, _ = run(
        "token", DISCOVERY, "--key", str(SANDBOX / "ecprivkey.pem"), "--kid", SANDBOX_KID,
        "--iss", SANDBOX_ISSUER,
        "--jku", "https://sandbox.cds-hooks.org/.well-known/jwks.json",
    )  # fmt: skip
    assert code == 0
    response = client.get("/cds-services", headers={"Authorization": f"Bearer {out.strip()}"})
    assert response.status_code == 200


def test_token_refuses_a_public_key_with_the_way_out() -> None:
    code, _, err = run("token", DISCOVERY, "--key", str(SANDBOX / "jwks.json"), "--iss", ISS)
    assert code == 2 and "holds a public key" in err and "keys new" in err


def test_trust_check_lists_the_clients_as_serve_loads_them(trusted: Path) -> None:
    code, out, _ = run("trust", "check")
    kid = json.loads(Path("keys/test-ehr.jwks.json").read_text())["keys"][0]["kid"]
    assert code == 0
    assert f"- test-ehr: iss {ISS}" in out and kid in out and "algorithms ES384" in out


def test_trust_check_accepts_a_good_token_without_using_it_up(
    trusted: Path, api: TestClient
) -> None:
    token = mint(HOOK)
    code, out, _ = run("trust", "check", "--token", token, "--url", HOOK)
    assert code == 0, out
    assert f"ACCEPTED for {HOOK}: client 'test-ehr'" in out
    response = api.post(
        "/cds-services/muscle-cramps-order-select",
        headers={"Authorization": f"Bearer {token}"},
        json={"hook": "order-select"},  # authenticated first, then refused as a bad request
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("make", "reason", "hint"),
    [
        (lambda: mint(DISCOVERY), "aud does not name this endpoint",
         "a discovery token is refused on a hook call"),
        (lambda: mint(HOOK, str(SANDBOX / "jwk-keypair.json")), "no key with this kid",
         "kids in the trust file for this client"),
        (lambda: _other_issuer(), "iss not trusted", f"trusted: {ISS}"),
        (lambda: _expired(), "token expired", "CDS_JWT_CLOCK_SKEW_SECONDS"),
        (lambda: mint(HOOK, "keys/test-ehr.private.jwk.json", "--lifetime", "7200"),
         "token lifetime longer than allowed", "CDS_JWT_MAX_LIFETIME_SECONDS"),
    ],
    ids=["wrong-aud", "unknown-kid", "unknown-iss", "expired", "too-long"],
)
def test_trust_check_says_why_a_token_is_refused(
    trusted: Path, make: Callable[[], str], reason: str, hint: str
) -> None:
    code, out, _ = run("trust", "check", "--token", "-", "--url", HOOK, stdin=f"Bearer {make()}\n")
    assert code == 1, out
    assert f"REFUSED (the service answers 401) for {HOOK}: {reason}" in out
    assert hint in out


def _other_issuer() -> str:
    code, out, _ = run("token", HOOK, "--key", "keys/test-ehr.private.jwk.json", "--iss",
                       "https://ehr.example.org/")  # fmt: skip
    assert code == 0
    return out.strip()


def _expired() -> str:
    key = load_key(Path("keys/test-ehr.private.jwk.json"))
    return mint_token(key, iss=ISS, aud=HOOK, lifetime=300, now=1_000_000_000)


@pytest.mark.parametrize(
    ("pem", "says"),
    [("ecprivkey.pem", "it holds a PRIVATE key"), ("public.pem", "is a PEM key")],
)
def test_a_pem_named_as_jwks_file_is_refused_with_the_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pem: str, says: str
) -> None:
    key = load_key(SANDBOX / "ecprivkey.pem", kid=SANDBOX_KID)
    (tmp_path / "public.pem").write_bytes(key.key.as_pem(private=False))
    (tmp_path / "ecprivkey.pem").write_bytes((SANDBOX / "ecprivkey.pem").read_bytes())
    trust = tmp_path / "trust.toml"
    trust.write_text(f'[[clients]]\niss = "{ISS}"\njwks_file = "{pem}"\n')
    with pytest.raises(TrustConfigError, match="cds-service keys jwks") as raised:
        load_trust_file(trust)
    assert says in str(raised.value) and "not valid JSON" not in str(raised.value)
    monkeypatch.setenv("CDS_TRUST_FILE", str(trust))
    code, _, err = run("trust", "check")
    assert code == 2 and "is a PEM key, not a JWK Set" in err
