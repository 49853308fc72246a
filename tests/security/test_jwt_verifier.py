"""JwtVerifier: what it accepts, and every way a token must fail (each with its logged reason)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import respx
from joserfc.jwk import ECKey, RSAKey

from cds_service.errors import Unauthorized
from cds_service.security.jwt import JwtVerifier
from cds_service.security.principal import AuthenticatedClient
from tests.security.helpers import (
    AUD,
    BASE,
    EHR_FHIR,
    EHR_ISS,
    EHR_JKU,
    EHR_JWKS_URL,
    SANDBOX_ISS,
    SANDBOX_JKU,
    SANDBOX_KID,
    SPEC_AUD,
    SPEC_TOKEN_FILE,
    TENANT_ISS,
    b64,
    claims,
    encode,
    mint,
    mint_hmac,
    sandbox_private_key,
    sign,
)


async def refused(verifier: JwtVerifier, token: str, audience: str = AUD) -> str:
    """The (logged, never answered) reason the token was refused."""
    with pytest.raises(Unauthorized) as info:
        await verifier.verify(token, audience)
    return info.value.message


# --- accepted ---------------------------------------------------------------------------------


async def test_sandbox_token_is_accepted_offline(
    verifier: JwtVerifier, mock_http: respx.MockRouter
) -> None:
    """Exactly what the sandbox sends (its jku included) verifies from the inline key, no fetch."""
    aud = f"{BASE}/cds-services"
    token = mint(
        sandbox_private_key(), claims(iss=SANDBOX_ISS, aud=aud), kid=SANDBOX_KID, jku=SANDBOX_JKU
    )
    client = await verifier.verify(token, aud)
    assert client.issuer == SANDBOX_ISS
    assert client.tenant is None
    assert client.fhir_servers is None
    assert not mock_http.calls


async def test_ehr_es384_token_is_accepted(verifier: JwtVerifier, ec_key: ECKey) -> None:
    values = claims(tenant="t-1")
    client = await verifier.verify(mint(ec_key, values), AUD)
    assert client == AuthenticatedClient(
        issuer=EHR_ISS, tenant="t-1", jti=values["jti"], fhir_servers=(EHR_FHIR,)
    )


async def test_ehr_rs384_token_is_accepted(verifier: JwtVerifier, rsa_key: RSAKey) -> None:
    token = mint(rsa_key, claims(), alg="RS384", kid="rsa-1")
    assert (await verifier.verify(token, AUD)).issuer == EHR_ISS


@pytest.mark.parametrize(
    "aud",
    [
        [AUD],
        ["https://other.example.org/cds-services/x", AUD],
        AUD + "/",
        AUD.replace("http://127.0.0.1", "HTTP://127.0.0.1"),
        AUD.replace("127.0.0.1:8080", "127.0.0.1:8080"),
    ],
    ids=["array", "array-with-others", "trailing-slash", "scheme-case", "same"],
)
async def test_aud_forms_that_name_us(verifier: JwtVerifier, ec_key: ECKey, aud: Any) -> None:
    await verifier.verify(mint(ec_key, claims(aud=aud)), AUD)


async def test_aud_host_case_and_default_port(verifier: JwtVerifier, ec_key: ECKey) -> None:
    ours = "https://cds.example.org/cds-services/x"
    await verifier.verify(
        mint(ec_key, claims(aud="https://CDS.Example.org:443/cds-services/x")), ours
    )


async def test_epic_style_nbf_before_iat_and_lowercase_typ(
    verifier: JwtVerifier, rsa_key: RSAKey
) -> None:
    now = int(time.time())
    token = mint(rsa_key, claims(nbf=now - 300, now=now), alg="RS384", kid="rsa-1", typ="jwt")
    await verifier.verify(token, AUD)


async def test_small_clock_skew_is_tolerated(
    make_verifier: Callable[..., JwtVerifier], ec_key: ECKey, mock_http: respx.MockRouter
) -> None:
    now = time.time()
    verifier = make_verifier(now=now)
    await verifier.verify(mint(ec_key, claims(now=now - 330)), AUD)  # expired 30 s ago
    await verifier.verify(mint(ec_key, claims(now=now + 30)), AUD)  # issued 30 s ahead


async def test_spec_example_token_verifies_inside_its_window(
    make_verifier: Callable[..., JwtVerifier], mock_http: respx.MockRouter
) -> None:
    """Positive control: the spec key verifies the spec token, so 'expired' below is real."""
    verifier = make_verifier(now=1_311_281_000, max_lifetime=200_000_000)
    client = await verifier.verify(SPEC_TOKEN_FILE.read_text().strip(), SPEC_AUD)
    assert client.tenant == "2ddd6c3a-8e9a-44c6-a305-52111ad302a2"
    assert not mock_http.calls


# --- refused ----------------------------------------------------------------------------------


async def test_spec_example_token_is_expired(
    verifier: JwtVerifier, mock_http: respx.MockRouter
) -> None:
    token = SPEC_TOKEN_FILE.read_text().strip()
    assert await refused(verifier, token, SPEC_AUD) == "token expired"
    assert not mock_http.calls


@pytest.mark.parametrize("signature", ["", "e30"], ids=["empty-signature", "junk-signature"])
async def test_alg_none(verifier: JwtVerifier, signature: str) -> None:
    token = f"{encode({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}.{encode(claims())}.{signature}"
    reason = await refused(verifier, token)
    assert reason in ("not a compact JWS", "alg missing or not an accepted asymmetric algorithm")


@pytest.mark.parametrize("alg", ["None", "NONE", "es384", "Es384", "EdDSA", "HS384"])
async def test_other_algs_are_refused(verifier: JwtVerifier, ec_key: ECKey, alg: str) -> None:
    header = encode({"alg": alg, "typ": "JWT", "kid": "ec-1"})
    payload = encode(claims())
    token = f"{header}.{payload}.{sign(f'{header}.{payload}', ec_key, 'ES384')}"
    assert await refused(verifier, token) == "alg missing or not an accepted asymmetric algorithm"


async def test_alg_missing(verifier: JwtVerifier, ec_key: ECKey) -> None:
    header = encode({"typ": "JWT", "kid": "ec-1"})
    payload = encode(claims())
    token = f"{header}.{payload}.{sign(f'{header}.{payload}', ec_key, 'ES384')}"
    assert await refused(verifier, token) == "alg missing or not an accepted asymmetric algorithm"


async def test_alg_not_in_client_allowlist(verifier: JwtVerifier, rsa_key: RSAKey) -> None:
    token = mint(rsa_key, claims(), alg="PS384", kid="rsa-1")
    assert await refused(verifier, token) == "alg PS384 not allowed for this client"


@pytest.mark.parametrize("form", ["pem", "jwk-json", "jwk-json-sorted"])
async def test_hs256_signed_with_the_public_key_as_secret(
    verifier: JwtVerifier, ec_key: ECKey, rsa_key: RSAKey, form: str
) -> None:
    if form == "pem":
        secret = rsa_key.as_pem(private=False)
    elif form == "jwk-json":
        secret = json.dumps(rsa_key.as_dict(private=False)).encode()
    else:
        secret = json.dumps(ec_key.as_dict(private=False), sort_keys=True).encode()
    token = mint_hmac(secret, claims(), kid="rsa-1" if form == "pem" else "ec-1")
    assert await refused(verifier, token) == "alg missing or not an accepted asymmetric algorithm"


async def test_rs384_header_with_an_ec_kid(verifier: JwtVerifier, rsa_key: RSAKey) -> None:
    """Key confusion: an RS384 token must never be checked with the client's EC key."""
    token = mint(rsa_key, claims(), alg="RS384", kid="ec-1")
    assert await refused(verifier, token) == "key type does not match alg RS384"


async def test_es384_header_with_an_rsa_kid(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims(), alg="ES384", kid="rsa-1")
    assert await refused(verifier, token) == "key type does not match alg ES384"


async def test_signed_by_another_key_with_a_trusted_kid(
    verifier: JwtVerifier, other_ec_key: ECKey
) -> None:
    reason = await refused(verifier, mint(other_ec_key, claims()))
    assert reason.startswith("signature not valid")


@pytest.mark.parametrize("member", ["jwk", "x5u", "x5c"])
async def test_keys_named_in_the_header_are_ignored(
    verifier: JwtVerifier, other_ec_key: ECKey, member: str, mock_http: respx.MockRouter
) -> None:
    """An embedded `jwk` (or x5u/x5c) is never used: the key comes from the trust config."""
    value: Any = {
        "jwk": other_ec_key.as_dict(private=False),
        "x5u": "https://evil.example.com/cert.pem",
        "x5c": ["MIIB"],
    }[member]
    token = mint(other_ec_key, claims(), extra_header={member: value})
    assert (await refused(verifier, token)).startswith("signature not valid")
    assert not mock_http.calls


async def test_sandbox_key_cannot_speak_for_another_issuer(
    verifier: JwtVerifier, mock_http: respx.MockRouter
) -> None:
    """A key trusted for one client verifies nothing for another (the sandbox key is public!)."""
    mock_http.get(EHR_JWKS_URL).respond(json={"keys": []})
    token = mint(sandbox_private_key(), claims(iss=EHR_ISS), kid=SANDBOX_KID)
    assert await refused(verifier, token) == "no key with this kid for this client"


async def test_tampered_payload(verifier: JwtVerifier, ec_key: ECKey) -> None:
    header, _, signature = mint(ec_key, claims()).split(".")
    forged = encode(claims(tenant="someone-else"))
    reason = await refused(verifier, f"{header}.{forged}.{signature}")
    assert reason.startswith("signature not valid")


async def test_tampered_header(verifier: JwtVerifier, ec_key: ECKey) -> None:
    _, payload, signature = mint(ec_key, claims()).split(".")
    header = encode({"alg": "ES384", "typ": "JWT", "kid": "ec-1", "x": 1})
    assert (await refused(verifier, f"{header}.{payload}.{signature}")).startswith(
        "signature not valid"
    )


@pytest.mark.parametrize(
    "aud",
    [
        "https://evil.example.com/cds-services/muscle-cramps-order-sign",
        f"{BASE}/cds-services/another-service",
        f"{BASE}/cds-services",
        ["https://a.example.org/x", f"{BASE}/cds-services"],
        [],
        None,
        42,
        [AUD, 7],
        AUD.replace("http://", "https://"),
        AUD.upper(),
        AUD + "?x=1",
    ],
    ids=[
        "other-host",
        "other-service",
        "discovery-url",
        "array-without-us",
        "empty-array",
        "missing",
        "number",
        "array-with-non-string",
        "other-scheme",
        "path-case",
        "query",
    ],
)
async def test_wrong_audience(verifier: JwtVerifier, ec_key: ECKey, aud: Any) -> None:
    reason = await refused(verifier, mint(ec_key, claims(aud=aud)))
    assert reason == "aud does not name this endpoint"


async def test_expired(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims(now=time.time() - 400))  # exp 100 s ago, skew 60 s
    assert await refused(verifier, token) == "token expired"


async def test_iat_in_the_future(verifier: JwtVerifier, ec_key: ECKey) -> None:
    assert await refused(verifier, mint(ec_key, claims(now=time.time() + 120))) == (
        "iat in the future"
    )


async def test_nbf_ahead(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims(nbf=int(time.time()) + 120))
    assert await refused(verifier, token) == "token not yet valid (nbf)"


async def test_lifetime_too_long(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims(lifetime=3601))
    assert await refused(verifier, token) == "token lifetime longer than allowed"


async def test_exp_before_iat(verifier: JwtVerifier, ec_key: ECKey) -> None:
    now = int(time.time())
    token = mint(ec_key, claims(now=now, exp=now - 1))
    assert await refused(verifier, token) == "exp before iat"


@pytest.mark.parametrize(
    ("claim", "value", "reason"),
    [
        ("exp", None, "exp missing or not a number"),
        ("iat", None, "iat missing or not a number"),
        ("exp", "1999999999", "exp missing or not a number"),
        ("iat", True, "iat missing or not a number"),
        ("jti", None, "jti missing or not a usable string"),
        ("jti", "", "jti missing or not a usable string"),
        ("jti", 12345, "jti missing or not a usable string"),
        ("jti", "j" * 300, "jti missing or not a usable string"),
        ("iss", None, "iss missing"),
        ("iss", ["https://ehr.example.org/fhir"], "iss missing"),
    ],
)
async def test_missing_or_mistyped_claims(
    verifier: JwtVerifier, ec_key: ECKey, claim: str, value: Any, reason: str
) -> None:
    values = claims()
    if value is None:
        del values[claim]
    else:
        values[claim] = value
    assert await refused(verifier, mint(ec_key, values)) == reason


async def test_replayed_jti(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims())
    await verifier.verify(token, AUD)
    assert await refused(verifier, token) == "jti already used (replay)"


async def test_same_jti_in_a_new_token_is_a_replay(verifier: JwtVerifier, ec_key: ECKey) -> None:
    first = claims()
    await verifier.verify(mint(ec_key, first), AUD)
    again = claims(jti=first["jti"], aud=[AUD])
    assert await refused(verifier, mint(ec_key, again)) == "jti already used (replay)"


async def test_a_refused_token_does_not_burn_its_jti(verifier: JwtVerifier, ec_key: ECKey) -> None:
    values = claims()
    await refused(verifier, mint(ec_key, values), f"{BASE}/cds-services/other")
    await verifier.verify(mint(ec_key, values), AUD)


async def test_concurrent_replays_only_one_wins(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims())
    results = await asyncio.gather(
        *(verifier.verify(token, AUD) for _ in range(8)), return_exceptions=True
    )
    assert sum(isinstance(result, AuthenticatedClient) for result in results) == 1
    assert all(isinstance(r, AuthenticatedClient | Unauthorized) for r in results)


async def test_unknown_issuer(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims(iss="https://ehr.example.org/fhir/"))  # near miss: trailing /
    assert await refused(verifier, token) == "iss not trusted"


async def test_jku_not_allowlisted_is_never_fetched(
    verifier: JwtVerifier, other_ec_key: ECKey, mock_http: respx.MockRouter
) -> None:
    evil = mock_http.get("https://evil.example.com/jwks.json").respond(
        json={"keys": [other_ec_key.as_dict(private=False)]}
    )
    token = mint(other_ec_key, claims(), kid="evil-kid", jku="https://evil.example.com/jwks.json")
    assert await refused(verifier, token) == "jku not allowlisted for this client"
    assert not evil.called
    assert not mock_http.calls


async def test_another_clients_jku_is_not_allowlisted(
    verifier: JwtVerifier, ec_key: ECKey, mock_http: respx.MockRouter
) -> None:
    token = mint(ec_key, claims(), kid="zzz", jku=SANDBOX_JKU)
    assert await refused(verifier, token) == "jku not allowlisted for this client"
    assert not mock_http.calls


async def test_unknown_kid_refetches_once_then_rate_limited(
    verifier: JwtVerifier, ec_key: ECKey, mock_http: respx.MockRouter
) -> None:
    route = mock_http.get(EHR_JWKS_URL).respond(json={"keys": []})
    assert await refused(verifier, mint(ec_key, claims(), kid="new-1")) == (
        "no key with this kid for this client"
    )
    assert route.call_count == 1
    assert await refused(verifier, mint(ec_key, claims(), kid="new-2")) == (
        "no key with this kid for this client"
    )
    assert route.call_count == 1  # second unknown kid inside the window: no request


async def test_allowlisted_jku_is_fetched_and_used(
    verifier: JwtVerifier, url_key: ECKey, mock_http: respx.MockRouter
) -> None:
    mock_http.get(EHR_JWKS_URL).respond(json={"keys": []})
    jku_route = mock_http.get(EHR_JKU).respond(json={"keys": [url_key.as_dict(private=False)]})
    token = mint(url_key, claims(), kid="url-1", jku=EHR_JKU)
    assert (await verifier.verify(token, AUD)).issuer == EHR_ISS
    assert jku_route.call_count == 1


@pytest.mark.parametrize(
    ("typ", "reason"),
    [("JWS", "typ is not JWT"), ("at+jwt", "typ is not JWT"), (None, "typ is not JWT")],
)
async def test_wrong_typ(
    verifier: JwtVerifier, ec_key: ECKey, typ: str | None, reason: str
) -> None:
    assert await refused(verifier, mint(ec_key, claims(), typ=typ)) == reason


async def test_kid_missing(verifier: JwtVerifier, ec_key: ECKey) -> None:
    assert await refused(verifier, mint(ec_key, claims(), kid=None)) == "kid missing"


async def test_crit_header_is_refused(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims(), extra_header={"crit": ["exp"], "exp": 1})
    assert await refused(verifier, token) == "crit header not supported"


@pytest.mark.parametrize("tenant", ["tenant-c", None, ["tenant-a"], "TENANT-A"])
async def test_tenant_not_allowed(verifier: JwtVerifier, ec_key: ECKey, tenant: Any) -> None:
    token = mint(ec_key, claims(iss=TENANT_ISS, tenant=tenant))
    assert await refused(verifier, token) == "tenant not allowed for this client"


async def test_allowed_tenant_is_accepted(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims(iss=TENANT_ISS, tenant="tenant-b"))
    assert (await verifier.verify(token, AUD)).tenant == "tenant-b"


_DUPLICATE_ALG = b'{"alg":"ES384","alg":"none"}'
_NAN_EXP = b'{"exp":NaN}'


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "a..c",
        "....",
        "eyJhbGciOiJFUzM4NCJ9.e30.",
        "!!!.???.###",
        "eyJhbGci OiJFUzM4NCJ9.e30.abc",
        "bm90IGpzb24.bm90IGpzb24.abc",  # base64url of "not json"
        f"{b64(b'[1,2]')}.{b64(b'{}')}.abc",  # header is not an object
        f"{encode({'alg': 'ES384'})}.{b64(b'[' * 5000)}.abc",  # deeply nested payload
        f"{b64(_DUPLICATE_ALG)}.{encode({})}.abc",
        f"{encode({'alg': 'ES384', 'typ': 'JWT', 'kid': 'ec-1'})}.{b64(_NAN_EXP)}.abc",
        "é.é.é",
        "A.A.A",  # base64url of impossible length
    ],
)
async def test_garbage_tokens(verifier: JwtVerifier, token: str) -> None:
    await refused(verifier, token)


async def test_duplicate_claim_is_refused(verifier: JwtVerifier, ec_key: ECKey) -> None:
    values = claims()
    body = json.dumps(values)[:-1] + f', "iss": "{EHR_ISS}"}}'
    token = mint(ec_key, values, raw_payload=b64(body.encode()))
    assert await refused(verifier, token) == "payload is not strict JSON"


async def test_token_over_the_size_cap(verifier: JwtVerifier, ec_key: ECKey) -> None:
    token = mint(ec_key, claims(padding="x" * 16_400))
    assert await refused(verifier, token) == "token longer than 16384 bytes"


async def test_token_under_the_size_cap_with_padding_is_fine(
    verifier: JwtVerifier, ec_key: ECKey
) -> None:
    await verifier.verify(mint(ec_key, claims(padding="x" * 8_000)), AUD)


# --- logging hygiene --------------------------------------------------------------------------


async def test_log_names_reason_iss_kid_jti_never_token_or_claims(
    verifier: JwtVerifier, ec_key: ECKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    values = claims(tenant="PATIENT-SMITH-1961", aud=f"{BASE}/cds-services/other")
    token = mint(ec_key, values)
    await refused(verifier, token)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "aud does not name this endpoint" in text
    assert EHR_ISS in text and "ec-1" in text and values["jti"] in text
    assert token not in text and token.split(".")[1] not in text
    assert "PATIENT-SMITH-1961" not in text
    assert f"{BASE}/cds-services/other" not in text


async def test_log_values_from_the_token_are_sanitised(
    verifier: JwtVerifier, ec_key: ECKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = mint(ec_key, claims(iss="https://x\n2026-01-01 CRITICAL forged line" + "y" * 500))
    await refused(verifier, token)
    message = caplog.records[-1].getMessage()
    assert "\n" not in message
    assert len(message) < 600
