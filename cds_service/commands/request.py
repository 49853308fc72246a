"""`cds-service request`: a ready hook request from a patient Bundle plus draft orders.

For integration engineers: take a FHIR patient Bundle (Synthea transaction, collection,
searchset) and MedicationRequest files, and write the JSON an EHR would POST, with the prefetch
filled from this service's own templates. `--no-prefetch` leaves the fetching to the service
(set `--fhir-server`); `--null-prefetch` sends every key as null.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cds_service.clinical.medications import ORDER_TYPES
from cds_service.fhir.bundles import is_resource
from cds_service.tools.bundles import (
    BundleError,
    Resource,
    load_json,
    patient_id_of,
    resources_from,
)
from cds_service.tools.request_builder import (
    PrefetchMode,
    RequestOptions,
    build_request,
)

HOOKS = ("order-select", "order-sign", "patient-view")


def request(
    bundle: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="BUNDLE",
            help="FHIR patient data: a Bundle, a resource list or a hook request.",
        ),
    ],  # fmt: skip
    order: Annotated[
        list[Path] | None,
        typer.Option(
            "--order",
            exists=True,
            dir_okay=False,
            metavar="FILE",
            help="A draft MedicationRequest (or a Bundle/list of them); repeatable.",
        ),
    ] = None,  # fmt: skip
    hook: Annotated[str, typer.Option(help="order-select, order-sign or patient-view.")] = (
        "order-select"
    ),
    no_prefetch: Annotated[
        bool, typer.Option("--no-prefetch", help="Send no prefetch: the service must fetch.")
    ] = False,
    null_prefetch: Annotated[
        bool, typer.Option("--null-prefetch", help="Send every prefetch key as null.")
    ] = False,
    fhir_server: Annotated[
        str | None,
        typer.Option(
            help="fhirServer to send (default with --no-prefetch: https://fhir.example.org/r4)."
        ),
    ] = None,  # fmt: skip
    fhir_token: Annotated[
        str | None, typer.Option(help="Send fhirAuthorization with this bearer token.")
    ] = None,
    patient_id: Annotated[
        str | None, typer.Option(help="Whose data, when the Bundle has no single Patient.")
    ] = None,
    user_id: Annotated[str, typer.Option(help="context.userId.")] = "Practitioner/example",
    encounter_id: Annotated[str | None, typer.Option(help="context.encounterId.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Build a hook request JSON from a patient Bundle and draft orders."""
    if hook not in HOOKS:
        raise typer.BadParameter(f"expected one of {', '.join(HOOKS)}", param_hint="--hook")
    if no_prefetch and null_prefetch:
        raise typer.BadParameter("choose one of --no-prefetch and --null-prefetch")
    if hook == "patient-view" and order:
        raise typer.BadParameter("patient-view has no draft orders", param_hint="--order")
    mode: PrefetchMode = "none" if no_prefetch else "null" if null_prefetch else "full"
    try:
        resources = resources_from(load_json(bundle))
        pid = patient_id_of(resources, patient_id)
        drafts = [d for path in order or [] for d in read_orders(path)]
    except BundleError as exc:
        typer.echo(f"Cannot build the request: {exc}", err=True)
        raise typer.Exit(2) from None
    options = RequestOptions(
        hook=hook,  # type: ignore[arg-type]  # checked against HOOKS above
        prefetch=mode,
        fhir_server=fhir_server,
        fhir_token=fhir_token,
        user_id=user_id,
        encounter_id=encounter_id,
    )
    body = build_request(resources, drafts, pid, options)
    text = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(
            f"Wrote {out} ({hook}, prefetch: {mode}, {len(drafts)} draft order(s)).", err=True
        )


def read_orders(path: Path) -> list[Resource]:
    """The medication orders in one file (a resource, a Bundle or a list)."""
    found: list[dict[str, Any]] = resources_from(load_json(path))
    orders = [r for r in found if is_resource(r) and r["resourceType"] in ORDER_TYPES]
    if not orders:
        raise BundleError(f"{path}: no MedicationRequest or MedicationOrder")
    return orders
