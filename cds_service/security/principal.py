"""The verified identity of a CDS client, as the rest of the service sees it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    """A caller whose JWT verified. No token is kept here."""

    issuer: str | None
    tenant: str | None = None
    jti: str | None = None
    # FHIR base URLs this client may send as `fhirServer`; None: fall back to
    # CDS_FHIR_ALLOWED_HOSTS (the only allowance when authentication is off).
    fhir_servers: tuple[str, ...] | None = None


ANONYMOUS = AuthenticatedClient(issuer=None)
