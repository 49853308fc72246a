"""Every knob of the service, read once from `CDS_*` environment variables (or a file).

One `Settings` object is built at start-up and handed down; nothing else reads the environment.
A bad value stops start-up with a message naming the variable, never echoing a secret.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)

Profile = Literal["production", "development", "sandbox"]

SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
# A sandbox run locally (docs/sandbox.md): a production build served on 3000, or its README's
# `npm run dev` on 8080, which moves to 8081 when the service holds 8080. The browser's origin
# is whatever the tester typed, and localhost and 127.0.0.1 are different origins.
LOCAL_SANDBOX_ORIGINS = tuple(
    f"http://{host}:{port}" for port in (3000, 8081, 8080) for host in ("localhost", "127.0.0.1")
)


def _split_csv(value: object) -> object:
    """Accept `a,b,c` (how people write env vars) as well as a JSON list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Service configuration. Field names map to `CDS_<NAME>` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="CDS_",
        env_file=None,
        extra="ignore",
        env_ignore_empty=True,
        hide_input_in_errors=True,
        validate_default=True,
    )

    profile: Profile = Field(
        "production",
        description="production | development | sandbox. Development and sandbox relax "
        "defaults for local testing and log a loud warning.",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="The URL EHRs use to reach this service; JWT `aud` is checked against it.",
    )
    cors_origins: CsvList = Field(
        default_factory=list,
        description="Browser origins allowed to call the service (comma-separated). "
        "`*` is refused in production.",
    )
    fhir_timeout_seconds: float = Field(3.0, gt=0, le=60, description="Timeout per FHIR call.")
    request_deadline_seconds: float = Field(
        4.0, gt=0, le=120, description="Overall budget for fetching missing prefetch data."
    )
    max_body_bytes: int = Field(
        5_000_000, ge=1_000, le=200_000_000, description="Largest hook request body accepted."
    )
    max_json_depth: int = Field(
        64, ge=8, le=1_000, description="Deepest JSON nesting accepted in a feedback body."
    )
    max_entries_per_key: int = Field(
        10_000, ge=1, description="Most resources read from one prefetch key (all pages)."
    )
    max_pages: int = Field(10, ge=1, le=1_000, description="Most `next` pages followed per key.")
    # Hostile load (SECURITY.md §7): what one client, one connection or one FHIR server may cost.
    http_max_connections: int = Field(
        8192, ge=16, le=100_000, description="Open HTTP connections per process (lowered to fit "
        "the descriptor limit); at the cap the longest-idle connection without a request in "
        "progress is closed for a new one.",
    )
    http_idle_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="A connection with no request in progress is closed "
        "after this long (keep-alive, and before its first byte).",
    )
    http_header_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="Time from a request's first byte to the end of its "
        "headers; then 408 and the connection is closed.",
    )
    http_body_timeout_seconds: float = Field(
        20.0, gt=0, le=600, description="Time from the end of the headers to the end of the "
        "body; then 408 and the connection is closed.",
    )
    http_max_header_bytes: int = Field(
        32_768, ge=4_096, le=1_048_576, description="Request line and headers together; "
        "more is answered 431 before the application sees the request.",
    )
    http_max_headers: int = Field(100, ge=16, le=1_000, description="Header fields per request.")
    max_concurrent_calls: int = Field(
        16, ge=1, le=10_000, description="Hook and feedback calls processed at once per process."
    )
    max_queued_calls: int = Field(
        32, ge=0, le=100_000, description="Calls that may wait for a free slot; beyond, 503."
    )
    queue_timeout_seconds: float = Field(
        0.1, ge=0, le=30, description="Longest a call may wait between the arrival of its "
        "headers and the start of its processing (in the event loop's backlog or for a free "
        "slot); then 503.",
    )
    feedback_items_per_minute: int = Field(
        1_200, ge=1, le=1_000_000, description="Feedback items one client may post per minute "
        "(per process; the bucket holds one minute's worth); beyond, 429.",
    )
    fhir_max_response_bytes: int = Field(
        10_000_000, ge=10_000, le=200_000_000,
        description="Largest FHIR answer, counted after decompression while it streams in.",
    )
    fhir_max_json_values: int = Field(
        1_000_000, ge=1_000, le=20_000_000, description="JSON values (objects, arrays, strings, "
        "numbers) read from the FHIR server by one hook call's prefetch fetching (and again by "
        "its Medication look-ups), counted while they stream in; one answer at most 250,000.",
    )
    database_url: str = Field(
        "sqlite:///./cds_service.db",
        description="SQLAlchemy URL for feedback, served-card audit and the JWT replay store.",
    )
    database_migrate: bool = Field(
        True,
        description="Upgrade the database schema to this release at start-up. False where "
        "upgrades are a step of their own (`cds-service db upgrade`): an older schema then "
        "stops start-up.",
    )
    audit_retention_days: int = Field(
        400, ge=1, le=36_500,
        description="Served-card audit rows older than this are deleted; feedback is kept.",
    )
    audit_flush_seconds: float = Field(
        0.5, gt=0, le=60,
        description="The served-card audit is written at least this often (a crash loses at "
        "most this much of it).",
    )
    audit_batch_rows: int = Field(
        500, ge=1, le=100_000,
        description="... and as soon as this many audit rows are waiting.",
    )
    fhir_allowed_hosts: CsvList = Field(
        default_factory=list,
        description="FHIR server hosts the service may call when authentication is off "
        "(comma-separated; `*.example.org` matches sub-domains).",
    )
    fhir_allow_private_addresses: bool = Field(
        False, description="Allow loopback, private and link-local FHIR servers."
    )
    fhir_allow_unauthenticated: bool = Field(
        False,
        description="Query a `fhirServer` that came without `fhirAuthorization` "
        "(open test servers such as the sandbox's).",
    )
    auth_required: bool = Field(True, description="Require a valid EHR-signed JWT.")
    trust_file: Path | None = Field(
        None, description="TOML file listing trusted CDS clients (issuers, keys, FHIR servers)."
    )
    jwt_clock_skew_seconds: int = Field(60, ge=0, le=60)
    jwt_max_lifetime_seconds: int = Field(3600, ge=60, le=86_400)
    max_cards: int = Field(10, ge=1, le=100, description="Most cards in one response.")
    lab_max_age_days: int = Field(
        365, ge=1, le=36_500, description="Older lab results are ignored by the rules."
    )
    hypomagnesemia_mmol_per_l: float = Field(
        0.70, gt=0.3, lt=1.2, description="Serum Mg below this counts as low (when the lab "
        "gives no interpretation or reference range)."
    )
    site_file: Path | None = Field(
        None,
        description="TOML site file: rules on, off or silent per hook, the lab window, cut-offs "
        "within safe bounds, the alert budget per hook (docs/governance.md).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = Field(True, description="One JSON object per log line.")
    metrics_enabled: bool = True
    api_docs: bool | None = Field(
        None,
        description="Serve /docs, /redoc and /openapi.json (no token needed). Default: on in "
        "development and sandbox, off in production.",
    )

    @field_validator("cors_origins", "fhir_allowed_hosts", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _profile_defaults(self) -> Settings:
        if self.profile in ("development", "sandbox") and not self.cors_origins:
            self.cors_origins = [SANDBOX_ORIGIN, *LOCAL_SANDBOX_ORIGINS]
        if self.profile == "production" and "*" in self.cors_origins:
            raise ValueError("CDS_CORS_ORIGINS='*' is not allowed in production")
        if self.profile == "production" and "*" in self.fhir_allowed_hosts:
            raise ValueError("CDS_FHIR_ALLOWED_HOSTS='*' is not allowed in production")
        if self.api_docs is None:
            self.api_docs = self.profile != "production"
        return self

    @property
    def discovery_url(self) -> str:
        return f"{self.public_base_url}/cds-services"


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """`CDS_*` variables that are no setting (a typo is otherwise silently ignored), each with
    the closest setting's name when there is one. `CDS_TEST_*` belongs to the test suite."""
    environ = os.environ if environ is None else environ
    known = {"CDS_" + name.upper() for name in Settings.model_fields} | {"CDS_ENV_FILE"}
    notes = []
    for name in sorted(environ):
        if name.startswith("CDS_") and name not in known and not name.startswith("CDS_TEST_"):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            notes.append(f"{name} is not a setting and is ignored{hint}")
    return notes


def load_settings(env_file: str | None = None) -> Settings:
    """Build settings from the environment, and from a `.env`-style file when one is named
    (argument or `CDS_ENV_FILE`). Real environment variables win over the file."""
    env_file = env_file or os.environ.get("CDS_ENV_FILE")
    if env_file:
        if not Path(env_file).is_file():
            raise FileNotFoundError(f"CDS_ENV_FILE: no such file: {env_file}")
        return Settings(_env_file=env_file)
    return Settings()


def describe_error(exc: ValidationError) -> str:
    """One line per bad setting, naming the variable but never echoing its value."""
    lines = []
    for err in exc.errors():
        name = "CDS_" + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else "settings"
        lines.append(f"{name}: {err['msg']}")
    return "\n".join(lines)
