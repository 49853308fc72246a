"""The SSRF guard: which `fhirServer` bases and follow-up URLs we may call."""

from __future__ import annotations

import httpx
import pytest

from cds_service.fhir.access import FhirAccessPolicy
from cds_service.fhir.errors import FhirAccessDenied, FhirUnavailable
from tests.fhir.helpers import BASE, make_policy

HOSTS = ("fhir.example.org", "*.hospital.example")

REFUSED_BASES = [
    # look-alike hosts (cf. starlette test_cors_allow_origin_regex_fullmatch)
    "https://fhir.example.org.evil.com/r4",
    "https://evil.com/fhir.example.org",
    "https://fhir.example.org@evil.com/r4",
    "https://user:pw@fhir.example.org/r4",
    "https://evilfhir.example.org/r4",
    "https://hospital.example/fhir",  # "*.x" is sub-domains only, not the apex
    "https://a.hospital.example.evil.com/fhir",
    # schemes
    "ftp://fhir.example.org/r4",
    "file:///etc/passwd",
    "gopher://fhir.example.org/r4",
    # not a base
    "https://fhir.example.org/r4?_format=json",
    "https://fhir.example.org/r4#x",
    "https:///r4",
    "https://fhir.example.org:99999/r4",
]

PRIVATE_LITERALS = [
    "http://127.0.0.1/fhir",
    "http://127.1/fhir",
    "http://2130706433/fhir",
    "http://0x7f.0.0.1/fhir",
    "http://[::1]/fhir",
    "http://10.0.0.8/fhir",
    "http://172.16.5.4/fhir",
    "http://192.168.1.1/fhir",
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:127.0.0.1]/fhir",
    "http://[::ffff:7f00:1]/fhir",
    "http://0.0.0.0/fhir",
    "http://[::]/fhir",
    "http://100.64.0.1/fhir",
    "http://224.0.0.1/fhir",
    "http://240.0.0.1/fhir",
    "http://[fe80::1]/fhir",
    "http://[fc00::1]/fhir",
    "http://localhost/fhir",
    "http://api.localhost/fhir",
]


@pytest.mark.parametrize("url", REFUSED_BASES)
def test_refused_base(url: str) -> None:
    with pytest.raises(FhirAccessDenied):
        make_policy(allowed_hosts=HOSTS).check_base(url)


@pytest.mark.parametrize("url", PRIVATE_LITERALS)
def test_private_literal_refused_even_with_wildcard(url: str) -> None:
    with pytest.raises(FhirAccessDenied):
        make_policy(allowed_hosts=("*",)).check_base(url)


@pytest.mark.parametrize(
    "url",
    [
        BASE,
        "https://FHIR.Example.ORG/r4",
        "http://fhir.example.org:8080/baseR4",
        "https://fhir.example.org./r4",
        "https://ehr.hospital.example/fhir",
        "https://a.b.hospital.example/fhir",
    ],
)
def test_allowed_base(url: str) -> None:
    make_policy(allowed_hosts=HOSTS).check_base(url)


def test_wildcard_allows_any_public_host() -> None:
    make_policy(allowed_hosts=("*",)).check_base("https://anything.example.net/fhir")
    make_policy(allowed_hosts=("*",)).check_base("https://93.184.216.34/fhir")


def test_no_hosts_configured_refuses_everything() -> None:
    with pytest.raises(FhirAccessDenied):
        make_policy(allowed_hosts=()).check_base(BASE)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/fhir", "http://localhost/fhir"])
def test_private_allowed_when_configured(url: str) -> None:
    make_policy(allowed_hosts=("*",), allow_private=True).check_base(url)


def test_private_hosts_need_both_allowlist_and_allow_private() -> None:
    with pytest.raises(FhirAccessDenied):
        make_policy(allowed_hosts=("fhir.example.org",), allow_private=True).check_base(
            "http://127.0.0.1/fhir"
        )


def test_client_bases_are_exact() -> None:
    policy = make_policy(allowed_bases=("https://fhir.example.org/r4/",), allowed_hosts=("*",))
    policy.check_base("https://FHIR.example.org:443/r4")
    for url in ("https://fhir.example.org/r5", "https://fhir.example.org", "https://x.org/r4"):
        with pytest.raises(FhirAccessDenied):
            policy.check_base(url)


def test_empty_client_bases_allow_nothing() -> None:
    with pytest.raises(FhirAccessDenied):
        make_policy(allowed_bases=(), allowed_hosts=("*",)).check_base(BASE)


def test_malformed_configured_base_matches_nothing() -> None:
    policy = make_policy(allowed_bases=("ftp://fhir.example.org/r4", BASE))
    policy.check_base(BASE)


def test_client_base_on_private_address_still_needs_allow_private() -> None:
    base = "http://10.0.0.8/fhir"
    with pytest.raises(FhirAccessDenied):
        make_policy(allowed_bases=(base,)).check_base(base)
    make_policy(allowed_bases=(base,), allow_private=True).check_base(base)


async def test_async_check_accepts_public_name() -> None:
    await make_policy().check_base_async(BASE)
    await make_policy(allowed_hosts=("v6.example.org",)).check_base_async("https://v6.example.org")


@pytest.mark.parametrize(
    "host", ["rebind.example.org", "internal.example.org", "mapped.example.org"]
)
async def test_async_check_refuses_name_resolving_to_private(host: str) -> None:
    with pytest.raises(FhirAccessDenied, match="non-public"):
        await make_policy(allowed_hosts=(host,)).check_base_async(f"https://{host}/fhir")


async def test_async_check_skips_dns_when_private_allowed() -> None:
    policy = make_policy(allowed_hosts=("rebind.example.org",), allow_private=True)
    await policy.check_base_async("https://rebind.example.org/fhir")


async def test_unresolvable_name_is_unavailable() -> None:
    policy = make_policy(allowed_hosts=("nxdomain.example.org",))
    with pytest.raises(FhirUnavailable):
        await policy.check_base_async("https://nxdomain.example.org/fhir")


async def test_async_check_refuses_literal_without_dns() -> None:
    with pytest.raises(FhirAccessDenied):
        await make_policy(allowed_hosts=("*",)).check_base_async("http://127.0.0.1/fhir")


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/Observation?patient=1&_page=2",
        f"{BASE}/Medication/abc",
        f"{BASE}",
        "https://FHIR.example.org:443/r4/Patient/1",
    ],
)
def test_url_on_base_allowed(url: str) -> None:
    # The URL comes back as httpx parsed it: the request is sent with exactly what was checked.
    assert make_policy().check_url(url, BASE) == httpx.URL(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.org/r4/Observation?_page=2",
        "http://fhir.example.org/r4/Observation",  # scheme downgrade
        "https://fhir.example.org:8443/r4/Observation",
        "https://fhir.example.org/r4x/Observation",
        "https://fhir.example.org/admin",
        "https://fhir.example.org/r4/../admin",
        "https://fhir.example.org/r4/%2e%2e/admin",
        "https://fhir.example.org@evil.com/r4/Observation",
        "https://fhir.example.org.evil.com/r4/Observation",
        "javascript:alert(1)",
        "/r4/Observation",
    ],
)
def test_url_off_base_refused(url: str) -> None:
    with pytest.raises(FhirAccessDenied):
        make_policy().check_url(url, BASE)


def test_policy_is_frozen_and_comparable() -> None:
    a = make_policy()
    assert a == make_policy()
    with pytest.raises(AttributeError):
        a.allow_private = True  # type: ignore[misc]
    assert isinstance(a, FhirAccessPolicy)
