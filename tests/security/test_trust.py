"""Trust configuration: the TOML file, its errors at start-up, and the profile rules."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from cds_service.security.trust import (
    SANDBOX_ISSUER,
    SANDBOX_JKU,
    TrustConfig,
    TrustConfigError,
    TrustedClient,
    load_trust,
    load_trust_file,
)
from cds_service.settings import Settings
from tests.security.helpers import SANDBOX_DIR, public_jwks

EPIC_TOML = """
[[clients]]
name = "epic-prod"
iss = "https://fhir.hospital.example.org/interconnect-prd/api/FHIR/R4"
allowed_jku = ["https://fhir.hospital.example.org/interconnect-prd/api/epic/2019/Security/Open/PublicKeys/530005/OAuth2"]
algorithms = ["RS384"]
fhir_servers = ["https://fhir.hospital.example.org/interconnect-prd/api/FHIR/R4/"]

[[clients]]
name = "local-ehr"
iss = "https://ehr.example.org"
jwks_file = "keys/ehr.jwks.json"
jwks_urls = ["https://ehr.example.org/.well-known/jwks.json", "http://localhost:9000/jwks"]
tenants = ["t-1"]
"""


def write(tmp_path: Path, text: str, name: str = "trust.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def client_toml(**fields: Any) -> str:
    lines = ["[[clients]]"]
    for name, value in fields.items():
        lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def ehr_key_file(tmp_path: Path) -> Path:
    key = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    (tmp_path / "keys").mkdir()
    path = tmp_path / "keys" / "ehr.jwks.json"
    path.write_text(json.dumps(public_jwks(key)))
    return path


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/t.db", **values)


def test_worked_example_loads(tmp_path: Path, ehr_key_file: Path) -> None:
    config = load_trust_file(write(tmp_path, EPIC_TOML))
    epic = config.client("https://fhir.hospital.example.org/interconnect-prd/api/FHIR/R4")
    assert epic is not None
    assert epic.algorithms == ("RS384",)
    assert epic.fhir_servers == ("https://fhir.hospital.example.org/interconnect-prd/api/FHIR/R4",)
    assert epic.tenants is None
    local = config.client("https://ehr.example.org")
    assert local is not None
    assert local.jwks_file == ehr_key_file
    assert local.algorithms == ("ES384", "RS384")
    assert len(local.inline_jwk_sets()) == 1
    assert config.client("https://ehr.example.org/") is None  # exact iss only


def test_inline_jwks_table(tmp_path: Path) -> None:
    key = ECKey.generate_key("P-384", parameters={"kid": "k"}).as_dict(private=False)
    inline = ", ".join(f'{name} = "{value}"' for name, value in key.items())
    text = f'[[clients]]\niss = "https://a.example"\n[clients.jwks]\nkeys = [{{ {inline} }}]\n'
    config = load_trust_file(write(tmp_path, text))
    client = config.client("https://a.example")
    assert client is not None and client.jwks is not None
    assert "keys" not in repr(client) and str(key["x"]) not in repr(client)


@pytest.mark.parametrize("alg", ["HS256", "HS512", "none", "None", "es384", "EdDSA", "RSA-OAEP"])
def test_bad_algorithm_is_refused_at_load(tmp_path: Path, alg: str) -> None:
    text = client_toml(
        name="bad-alg",
        iss="https://a.example",
        allowed_jku=["https://a.example/k"],
        algorithms=["ES384", alg],
    )
    with pytest.raises(TrustConfigError) as info:
        load_trust_file(write(tmp_path, text))
    message = str(info.value)
    assert "bad-alg" in message and "algorithms" in message and alg in message


def test_empty_algorithms_refused(tmp_path: Path) -> None:
    text = client_toml(iss="https://a.example", allowed_jku=["https://a.example/k"], algorithms=[])
    with pytest.raises(TrustConfigError, match="algorithms"):
        load_trust_file(write(tmp_path, text))


def test_missing_key_source_refused(tmp_path: Path) -> None:
    with pytest.raises(TrustConfigError, match=r"https://a.example.*no key source"):
        load_trust_file(write(tmp_path, client_toml(iss="https://a.example")))


def test_missing_jwks_file_refused(tmp_path: Path) -> None:
    text = client_toml(name="nofile", iss="https://a.example", jwks_file="missing.json")
    with pytest.raises(TrustConfigError, match=r"nofile.*cannot read"):
        load_trust_file(write(tmp_path, text))


def test_jwks_file_not_json_refused(tmp_path: Path) -> None:
    (tmp_path / "k.json").write_text("{nope")
    text = client_toml(iss="https://a.example", jwks_file="k.json")
    with pytest.raises(TrustConfigError, match="not valid JSON"):
        load_trust_file(write(tmp_path, text))


def test_private_key_in_config_refused(tmp_path: Path) -> None:
    private = ECKey.generate_key("P-384", parameters={"kid": "p"}).as_dict(private=True)
    (tmp_path / "k.json").write_text(json.dumps({"keys": [private]}))
    text = client_toml(iss="https://a.example", jwks_file="k.json")
    with pytest.raises(TrustConfigError, match="private key"):
        load_trust_file(write(tmp_path, text))


@pytest.mark.parametrize(
    "doc",
    [
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]},
        {"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "bad"}]},
        {"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]},
        {"nokeys": []},
        [],
    ],
    ids=["symmetric", "invalid-point", "no-kid", "no-keys-member", "not-an-object"],
)
def test_unusable_inline_keys_refused(tmp_path: Path, doc: Any) -> None:
    (tmp_path / "k.json").write_text(json.dumps(doc))
    with pytest.raises(TrustConfigError, match="jwks_file"):
        load_trust_file(write(tmp_path, client_toml(iss="https://a.example", jwks_file="k.json")))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jwks_urls", ["http://ehr.example.org/jwks"]),
        ("jwks_urls", ["ftp://ehr.example.org/jwks"]),
        ("allowed_jku", ["/relative/jwks"]),
        ("allowed_jku", ["https://user:pw@ehr.example.org/jwks"]),
        ("fhir_servers", ["not a url"]),
        ("fhir_servers", ["https://fhir.example.org/r4?token=x"]),
        ("tenants", []),
        ("allowed_jkus", ["https://typo.example.org"]),
    ],
)
def test_bad_fields_refused_naming_client_and_key(tmp_path: Path, field: str, value: Any) -> None:
    text = client_toml(name="c1", iss="https://a.example", allowed_jku=["https://a.example/k"])
    text += f"{field} = {json.dumps(value)}\n"
    if field == "allowed_jku":
        text = text.replace('allowed_jku = ["https://a.example/k"]\n', "", 1)
    with pytest.raises(TrustConfigError) as info:
        load_trust_file(write(tmp_path, text))
    assert "c1" in str(info.value) and field in str(info.value)


def test_duplicate_issuer_refused(tmp_path: Path) -> None:
    one = client_toml(iss="https://a.example", allowed_jku=["https://a.example/k"])
    with pytest.raises(TrustConfigError, match="listed twice"):
        load_trust_file(write(tmp_path, one + one))


@pytest.mark.parametrize(
    "text",
    ["not toml at all [[[", "[settings]\nx = 1\n", "clients = 5\n", "clients = [1]\n"],
)
def test_malformed_files_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(TrustConfigError, match="trust file"):
        load_trust_file(write(tmp_path, text))


def test_unreadable_file_refused(tmp_path: Path) -> None:
    with pytest.raises(TrustConfigError, match="cannot read"):
        load_trust_file(tmp_path / "absent.toml")


def test_sandbox_profile_ships_its_key(tmp_path: Path) -> None:
    config = TrustConfig.sandbox()
    sandbox = config.client(SANDBOX_ISSUER)
    assert sandbox is not None
    assert sandbox.allowed_jku == (SANDBOX_JKU,)
    assert sandbox.fhir_servers is None
    assert sandbox.inline_jwk_sets() == (json.loads((SANDBOX_DIR / "jwks.json").read_text()),)


def test_load_trust_sandbox_profile_warns_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    config = load_trust(settings(tmp_path, profile="sandbox"))
    assert config.trusts_sandbox
    assert "SANDBOX" in caplog.text and "ANYONE" in caplog.text


def test_load_trust_production_without_file_trusts_nobody(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    config = load_trust(settings(tmp_path, profile="production"))
    assert config.clients == ()
    assert "No CDS clients are trusted" in caplog.text


def test_load_trust_development_without_file_trusts_nobody(tmp_path: Path) -> None:
    assert load_trust(settings(tmp_path, profile="development")).clients == ()


def test_load_trust_file_plus_sandbox(tmp_path: Path, ehr_key_file: Path) -> None:
    path = write(tmp_path, EPIC_TOML)
    config = load_trust(settings(tmp_path, profile="sandbox", trust_file=path))
    assert config.trusts_sandbox and len(config.clients) == 3
    assert not load_trust(settings(tmp_path, profile="production", trust_file=path)).trusts_sandbox


def test_production_refuses_the_sandbox_issuer(tmp_path: Path) -> None:
    text = client_toml(iss=SANDBOX_ISSUER, allowed_jku=[SANDBOX_JKU])
    path = write(tmp_path, text)
    with pytest.raises(TrustConfigError, match="production"):
        load_trust(settings(tmp_path, profile="production", trust_file=path))
    assert load_trust(settings(tmp_path, profile="development", trust_file=path)).trusts_sandbox


def test_production_refuses_the_sandbox_key_under_another_issuer(tmp_path: Path) -> None:
    (tmp_path / "k.json").write_text((SANDBOX_DIR / "jwks.json").read_text())
    path = write(
        tmp_path, client_toml(name="sneaky", iss="https://ehr.example", jwks_file="k.json")
    )
    with pytest.raises(TrustConfigError, match="sneaky"):
        load_trust(settings(tmp_path, profile="production", trust_file=path))


def test_production_refuses_the_sandbox_jku_under_another_issuer(tmp_path: Path) -> None:
    path = write(tmp_path, client_toml(iss="https://ehr.example", allowed_jku=[SANDBOX_JKU]))
    with pytest.raises(TrustConfigError, match="production"):
        load_trust(settings(tmp_path, profile="production", trust_file=path))


def test_trusted_client_is_frozen() -> None:
    client = TrustedClient(iss="https://a.example", allowed_jku=("https://a.example/k",))
    with pytest.raises(ValueError):
        client.iss = "https://b.example"  # type: ignore[misc]
