"""`python -m cds_service` is the `cds-service` command."""

from cds_service.cli import main

main()
