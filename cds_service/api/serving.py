"""How `cds-service serve` (and the benchmark) runs uvicorn: one place for its options.

The HTTP-layer limits live in `GuardedHttpProtocol` (api/connections); here they are switched
on, uvicorn's `server:` header is switched off (it names the server and version to anyone),
and the descriptor limit is raised so the connection cap, not the kernel, decides.
"""

from __future__ import annotations

from typing import Any

from cds_service.api.connections import GuardedHttpProtocol, raise_fd_limit
from cds_service.settings import Settings

BACKLOG = 2048  # uvicorn's default; the connection cap is enforced after accept


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` (besides app, host and port)."""
    raise_fd_limit()
    return {
        "http": GuardedHttpProtocol,
        "ws": "none",
        "server_header": False,
        "timeout_keep_alive": settings.http_idle_timeout_seconds,
        "backlog": BACKLOG,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
    }
