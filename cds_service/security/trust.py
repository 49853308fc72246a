"""Which CDS clients (EHRs) we trust, with which keys, algorithms, tenants and FHIR servers.

Trust is configuration, never something a token can extend: a token names its issuer and
perhaps a `jku`, and both must already be listed here. The file is checked completely at
start-up so a typo stops the service instead of locking out (or letting in) an EHR later.

TOML format (see SECURITY.md for worked examples)::

    [[clients]]
    iss = "https://ehr.example-hospital.org/fhir"     # exact `iss` claim
    name = "example-hospital"                          # optional label for logs and errors
    jwks_urls = ["https://ehr.example-hospital.org/jwks"]   # fetched, cached, refetched on rotation
    allowed_jku = ["https://ehr.example-hospital.org/jwks"]  # a token's `jku` must be one of these
    jwks_file = "keys/example-hospital.jwks.json"      # relative to the TOML file
    algorithms = ["RS384"]                             # default ["ES384", "RS384"]
    tenants = ["2ddd6c3a-8e9a-44c6-a305-52111ad302a2"] # optional; token `tenant` must be one
    fhir_servers = ["https://ehr.example-hospital.org/fhir"]  # allowed `fhirServer` values
    [clients.jwks]                                     # optional inline JWK Set
    keys = [{ kty = "RSA", kid = "k1", n = "...", e = "AQAB" }]
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cds_service.security.keys import ASYMMETRIC_ALGORITHMS, UnusableKey, parse_jwk_set

if TYPE_CHECKING:
    from cds_service.settings import Settings

log = logging.getLogger(__name__)

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
DEFAULT_ALGORITHMS: tuple[str, ...] = ("ES384", "RS384")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_TRUST_FILE_BYTES = 1_000_000


class TrustConfigError(ValueError):
    """The trust configuration is unusable; the message names the client and the key."""


def _check_fetch_url(url: str) -> str:
    """A URL we may fetch keys from: https (plain http only on loopback, for local testing)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute URL")
    if parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    ):
        raise ValueError(f"{url!r} must use https")
    if parts.username or parts.password or parts.fragment:
        raise ValueError(f"{url!r} must not carry credentials or a fragment")
    return url


def _check_fhir_base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{url!r} must be a plain base URL (no credentials, query or fragment)")
    return url.rstrip("/")


class TrustedClient(BaseModel):
    """One CDS client (EHR) we accept tokens from. Immutable once loaded."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    iss: str = Field(min_length=1, max_length=512)
    name: str | None = Field(None, max_length=128)
    jwks_urls: tuple[str, ...] = ()
    # Public keys are not secret, but a key set in every repr is noise in logs and tracebacks.
    jwks: dict[str, Any] | None = Field(None, repr=False)
    jwks_file: Path | None = None
    allowed_jku: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    tenants: tuple[str, ...] | None = None
    fhir_servers: tuple[str, ...] | None = None
    # The inline and file key sets, read once at load (the file is never read again).
    _inline_sets: tuple[object, ...] = PrivateAttr(default=())

    @property
    def label(self) -> str:
        return self.name or self.iss

    @field_validator("jwks_urls", "allowed_jku")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_fetch_url(url) for url in value)

    @field_validator("fhir_servers")
    @classmethod
    def _fhir(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        return tuple(_check_fhir_base(url) for url in value)

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one algorithm")
        for alg in value:
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"{alg!r} is not allowed; use asymmetric algorithms only "
                    f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}), never none or HS*"
                )
        return value

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and (not value or not all(value)):
            raise ValueError("list tenant ids, or leave `tenants` out to accept any tenant")
        return value

    @field_validator("jwks_file")
    @classmethod
    def _jwks_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None or value.is_absolute():
            return value
        base = (info.context or {}).get("base_dir")
        return Path(base) / value if base else value

    @model_validator(mode="after")
    def _keys(self) -> TrustedClient:
        if not (self.jwks or self.jwks_file or self.jwks_urls or self.allowed_jku):
            raise ValueError("no key source: give jwks, jwks_file, jwks_urls or allowed_jku")
        sets: list[object] = []
        for label, doc in self._inline_documents():
            try:
                _, problems = parse_jwk_set(doc)
            except UnusableKey as exc:
                raise ValueError(f"{label}: {exc}") from None
            if problems:
                raise ValueError(f"{label}: {'; '.join(problems)}")
            sets.append(doc)
        self._inline_sets = tuple(sets)
        return self

    def _inline_documents(self) -> Iterable[tuple[str, object]]:
        if self.jwks is not None:
            yield "jwks", self.jwks
        if self.jwks_file is not None:
            yield f"jwks_file {self.jwks_file}", _read_json(self.jwks_file)

    def inline_jwk_sets(self) -> tuple[object, ...]:
        """The configured key sets (inline and file) as checked at load."""
        return self._inline_sets


def _read_json(path: Path) -> object:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if raw.lstrip().startswith(b"-----BEGIN"):
        private = b"PRIVATE" in raw.lstrip().split(b"\n", 1)[0]
        raise ValueError(
            f"{path} is a PEM key, not a JWK Set (JSON); convert it with `cds-service keys "
            f"jwks {path} --kid <the kid the client's tokens carry> -o <name>.jwks.json`"
            + ("; it holds a PRIVATE key, which belongs with the client, never in a trust file"
               if private else "")
        )
    try:
        return json.loads(raw)
    except ValueError:
        raise ValueError(f"{path} is not valid JSON (a JWK Set: {{\"keys\": [...]}})") from None


@dataclass(frozen=True, slots=True)
class TrustConfig:
    """The trusted clients, looked up by exact `iss`."""

    clients: tuple[TrustedClient, ...] = ()
    _by_iss: Mapping[str, TrustedClient] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_iss: dict[str, TrustedClient] = {}
        for client in self.clients:
            if client.iss in by_iss:
                raise TrustConfigError(f"client {client.label!r}: iss {client.iss!r} listed twice")
            by_iss[client.iss] = client
        object.__setattr__(self, "_by_iss", by_iss)

    def client(self, iss: str) -> TrustedClient | None:
        return self._by_iss.get(iss)

    @property
    def trusts_sandbox(self) -> bool:
        return SANDBOX_ISSUER in self._by_iss

    def merged(self, other: TrustConfig) -> TrustConfig:
        return TrustConfig(self.clients + other.clients)

    @classmethod
    def empty(cls) -> TrustConfig:
        return cls()

    @classmethod
    def sandbox(cls) -> TrustConfig:
        """The public CDS Hooks Sandbox. Its private key is public: development and tests only."""
        return cls((sandbox_client(),))


def sandbox_jwks() -> dict[str, Any]:
    """The sandbox's published JWK Set, shipped with the package (see data/PROVENANCE.md)."""
    text = resources.files("cds_service.security").joinpath("data/sandbox-jwks.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def sandbox_client() -> TrustedClient:
    return TrustedClient(
        iss=SANDBOX_ISSUER,
        name="cds-hooks-sandbox",
        jwks=sandbox_jwks(),
        allowed_jku=(SANDBOX_JKU,),
        algorithms=("ES384",),
        fhir_servers=None,
    )


def load_trust_file(path: Path | str) -> TrustConfig:
    """Parse and check a trust TOML file; problems raise `TrustConfigError` naming the client."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrustConfigError(f"trust file {path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_TRUST_FILE_BYTES:
        raise TrustConfigError(f"trust file {path}: larger than {MAX_TRUST_FILE_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TrustConfigError(f"trust file {path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"clients"})
    if unknown:
        raise TrustConfigError(f"trust file {path}: unknown top-level keys {unknown}")
    entries = data.get("clients", [])
    if not isinstance(entries, list):
        raise TrustConfigError(f"trust file {path}: `clients` must be an array of tables")
    clients: list[TrustedClient] = []
    for index, entry in enumerate(entries):
        clients.append(_client_from(entry, f"trust file {path}: clients[{index}]", path.parent))
    try:
        return TrustConfig(tuple(clients))
    except TrustConfigError as exc:
        raise TrustConfigError(f"trust file {path}: {exc}") from None


def _client_from(entry: object, where: str, base_dir: Path) -> TrustedClient:
    if not isinstance(entry, dict):
        raise TrustConfigError(f"{where}: must be a table")
    who = entry.get("name") or entry.get("iss")
    if isinstance(who, str):
        where = f"{where} ({who!r})"
    try:
        return TrustedClient.model_validate(entry, context={"base_dir": base_dir})
    except ValidationError as exc:
        details = "; ".join(_describe(error) for error in exc.errors())
        raise TrustConfigError(f"{where}: {details}") from None


def _describe(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ())) or "(client)"
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    return f"{loc}: {message}"


def load_trust(settings: Settings) -> TrustConfig:
    """The trust configuration for this run (see module docstring and SECURITY.md).

    - `CDS_TRUST_FILE` set: that file; with `CDS_PROFILE=sandbox` the sandbox is added too.
    - else `CDS_PROFILE=sandbox`: the sandbox alone.
    - else nobody: every token is refused (401), and a warning says so.
    The sandbox issuer is refused in `production` (its private key is public).
    """
    config = trust_config(settings)
    if config.trusts_sandbox:
        log.warning(
            "!!! TRUSTING THE PUBLIC CDS HOOKS SANDBOX (iss %s): its private signing key is "
            "published, so ANYONE can mint tokens this service accepts. Development and "
            "testing only; never with real patient data. !!!",
            SANDBOX_ISSUER,
        )
    if not config.clients:
        log.warning(
            "No CDS clients are trusted (set CDS_TRUST_FILE): every authenticated request "
            "will be refused with 401."
        )
    else:
        log.info(
            "Trusting %d CDS client(s): %s",
            len(config.clients),
            ", ".join(client.label for client in config.clients),
        )
    return config


def trust_config(settings: Settings) -> TrustConfig:
    """`load_trust` without its log lines: what `cds-service serve` checks before starting."""
    config = TrustConfig.empty()
    if settings.trust_file is not None:
        config = load_trust_file(settings.trust_file)
    if settings.profile == "sandbox" and not config.trusts_sandbox:
        config = config.merged(TrustConfig.sandbox())
    if settings.profile == "production":
        _refuse_sandbox_key(config)
    return config


def _refuse_sandbox_key(config: TrustConfig) -> None:
    """Production refuses the sandbox issuer, and its publicly known key under any issuer."""
    if config.trusts_sandbox:
        raise TrustConfigError(
            f"the CDS Hooks Sandbox issuer {SANDBOX_ISSUER} cannot be trusted in the production "
            "profile: its private key is public. Use CDS_PROFILE=development or sandbox."
        )
    sandbox_keys, _ = parse_jwk_set(sandbox_jwks())
    public = {key.thumbprint() for key in sandbox_keys.values()}
    for client in config.clients:
        for doc in client.inline_jwk_sets():
            keys, _ = parse_jwk_set(doc)
            if any(key.thumbprint() in public for key in keys.values()):
                raise TrustConfigError(
                    f"client {client.label!r}: lists the CDS Hooks Sandbox's public-private key; "
                    "refused in the production profile"
                )
        if SANDBOX_JKU in client.jwks_urls or SANDBOX_JKU in client.allowed_jku:
            raise TrustConfigError(
                f"client {client.label!r}: uses the CDS Hooks Sandbox's key set; "
                "refused in the production profile"
            )
