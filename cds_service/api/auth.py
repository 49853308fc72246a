"""Who is calling: verify the EHR's JWT for the exact endpoint URL it was minted for."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request

from cds_service.api.state import AppState, get_state
from cds_service.errors import Unauthorized
from cds_service.security.principal import ANONYMOUS, AuthenticatedClient

log = logging.getLogger(__name__)


async def authenticate(
    request: Request, state: Annotated[AppState, Depends(get_state)]
) -> AuthenticatedClient:
    """The verified caller; with `CDS_AUTH_REQUIRED=false`, an anonymous one."""
    if not state.settings.auth_required:
        return ANONYMOUS
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        # Worded so the log's bearer-token redaction leaves it readable ("Bearer" + quote).
        log.info("auth refused on %s: no Authorization header of type 'Bearer'", request.url.path)
        raise Unauthorized("missing bearer token")
    # `aud` must name this endpoint as the EHR sees it: the configured public URL + our path.
    audience = state.settings.public_base_url + request.url.path
    assert state.verifier is not None
    return await state.verifier.verify(token.strip(), audience)


Caller = Annotated[AuthenticatedClient, Depends(authenticate)]
