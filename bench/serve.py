"""Run one ASGI app for the benchmark with the uvicorn settings of `cds-service serve`.

    python bench/serve.py cds_service.app:app_from_env 8081 --factory   # our service
    python bench/serve.py bare_app:app 8082                             # the baseline
    python bench/serve.py fhir_stub:app 8083                            # the FHIR stub

One process, one worker (the server is this process: its pid is the one to watch), uvloop,
no access log, `log_config=None` (the service configures its own logging), proxy headers on.
Our service gets exactly `cds-service serve`'s options (`cds_service.api.serving`: the
HTTP-layer limits of api/connections, no `server` header); the bare app and the stub get
plain uvicorn with httptools.
"""

from __future__ import annotations

import sys

import uvicorn


def main() -> None:
    target, port = sys.argv[1], int(sys.argv[2])
    factory = "--factory" in sys.argv[3:]
    options = {"log_config": None, "access_log": False, "proxy_headers": True}
    if target.startswith("cds_service."):
        from cds_service.api.serving import uvicorn_options
        from cds_service.settings import load_settings

        options = uvicorn_options(load_settings())  # HTTP-layer limits on, as in production
    uvicorn.run(target, factory=factory, host="127.0.0.1", port=port, workers=1, **options)


if __name__ == "__main__":
    main()
