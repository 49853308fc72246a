"""Run one ASGI app for the benchmark with the uvicorn settings of `cds-service serve`.

    python bench/serve.py cds_service.app:app_from_env 8081 --factory   # our service
    python bench/serve.py bare_app:app 8082                             # the baseline
    python bench/serve.py fhir_stub:app 8083                            # the FHIR stub

One process, one worker (the server is this process: its pid is the one to watch), uvloop and
httptools when installed (uvicorn's `auto`), no access log, `log_config=None` (the service
configures its own logging), proxy headers on: the same as cds_service/cli.py `serve`.
"""

from __future__ import annotations

import sys

import uvicorn


def main() -> None:
    target, port = sys.argv[1], int(sys.argv[2])
    factory = "--factory" in sys.argv[3:]
    uvicorn.run(
        target,
        factory=factory,
        host="127.0.0.1",
        port=port,
        workers=1,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
