"""`cds-service validate`: strict checks of fixture files, off the hot path.

The service reads requests leniently (it must take what real EHRs send) and never validates
whole FHIR resources while answering. Fixtures, expected responses and hand-written examples
deserve the opposite, so this command checks them strictly, each with the model that defines it:

    fhir       fhir.resources R4B (a Bundle as a whole, entries included)
    request    `RequestDecoder`, as the service reads a call, and the hook's context rules
    response   CdsResponse (the 2.0 card rules and the 3.0 invariants it enforces)
    discovery  the 2.0 discovery document (no model elsewhere: the registry only writes one)
    feedback   the feedback endpoint's FeedbackRequest

Errors name the JSON path (`entry[3].resource.valueQuantity.value: ...`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from rich.console import Console
from rich.text import Text

from cds_service.cdshooks.hooks import HOOKS
from cds_service.cdshooks.response import CdsResponse
from cds_service.commands._common import console, json_path
from cds_service.errors import BadRequest
from cds_service.hooks.pipeline import parse_context
from cds_service.hooks.registry import Registry
from cds_service.store.feedback_models import FeedbackRequest

MAX_SHOWN = 20  # errors listed per file; a STU3 Bundle read as R4 has hundreds


class Kind(StrEnum):
    auto = "auto"
    fhir = "fhir"
    request = "request"
    response = "response"
    discovery = "discovery"
    feedback = "feedback"


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(slots=True)
class FileResult:
    file: Path
    kind: Kind | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def validate(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILE",
            help="JSON files: FHIR resources or Bundles, CDS Hooks requests, responses, "
            "discovery documents or feedback bodies.",
        ),
    ],
    kind: Annotated[
        Kind,
        typer.Option(
            "--kind",
            case_sensitive=False,
            help="What the files are; auto: resourceType -> fhir, hook + hookInstance -> "
            "request, cards -> response, services -> discovery, feedback -> feedback.",
        ),
    ] = Kind.auto,
) -> None:
    """Validate files strictly; exit 1 if any is invalid."""
    out = console()
    results = [validate_file(path, kind) for path in files]
    for result in results:
        print_result(out, result)
    invalid = sum(1 for r in results if not r.valid)
    out.print(f"{len(results) - invalid} valid, {invalid} invalid")
    raise typer.Exit(1 if invalid else 0)


def validate_file(path: Path, kind: Kind = Kind.auto) -> FileResult:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return FileResult(path, None, [Problem("(file)", f"not readable JSON: {exc}")])
    chosen = detect_kind(data) if kind is Kind.auto else kind
    result = FileResult(path, chosen)
    if chosen is None:
        result.errors.append(
            Problem(
                "(root)",
                "cannot tell what this is (no resourceType, hook, cards, "
                "services or feedback); pass --kind",
            )
        )
        return result
    CHECKS[chosen](data, result)
    return result


def detect_kind(data: Any) -> Kind | None:
    if not isinstance(data, dict):
        return None
    if "resourceType" in data:
        return Kind.fhir
    if "hook" in data and ("hookInstance" in data or "context" in data):
        return Kind.request
    for key, kind in (
        ("cards", Kind.response),
        ("services", Kind.discovery),
        ("feedback", Kind.feedback),
    ):
        if key in data:
            return kind
    return None


# --- the checks -------------------------------------------------------------------------------


def check_fhir(data: Any, result: FileResult) -> None:
    from fhir.resources.R4B import get_fhir_model_class  # ~1 s import: only when needed

    resource_type = data.get("resourceType") if isinstance(data, dict) else None
    if not isinstance(resource_type, str):
        result.errors.append(Problem("resourceType", "missing; not a FHIR resource"))
        return
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        result.errors.append(Problem("resourceType", f"'{resource_type}' is not an R4B resource"))
        return
    _collect(result, lambda: model.model_validate(data), fhir=True)


def check_request(data: Any, result: FileResult) -> None:
    try:
        # Exactly as the service reads a call.
        request = _registry().decoder.decode(orjson.dumps(data))
    except BadRequest as exc:
        where = ", ".join(exc.expression) or "(root)"
        prefix = f"Invalid CDS Hooks request: {where}: "
        reason = exc.message.removeprefix(prefix).rstrip(".") if exc.message.startswith(
            prefix
        ) else exc.message
        result.errors.append(Problem(where, reason))
        return
    if request.hook not in HOOKS:
        result.warnings.append(
            Problem(
                "hook", f"'{request.hook}' is not a hook this service answers; context not checked"
            )
        )
        return
    try:
        parse_context(_registry().for_hook(request.hook), request)
    except BadRequest as exc:
        result.errors.append(Problem(", ".join(exc.expression) or "context", exc.message))


def check_response(data: Any, result: FileResult) -> None:
    if not _collect(result, lambda: CdsResponse.model_validate(data)):
        return
    for index, card in enumerate(data["cards"]):
        if "uuid" not in card:
            result.warnings.append(
                Problem(
                    f"cards[{index}].uuid",
                    "absent: no feedback possible (the sandbox shows no Dismiss button)",
                )
            )


def check_discovery(data: Any, result: FileResult) -> None:
    _collect(result, lambda: Discovery.model_validate(data))


def check_feedback(data: Any, result: FileResult) -> None:
    _collect(result, lambda: FeedbackRequest.model_validate(data))


CHECKS = {
    Kind.fhir: check_fhir,
    Kind.request: check_request,
    Kind.response: check_response,
    Kind.discovery: check_discovery,
    Kind.feedback: check_feedback,
}


class DiscoveryService(BaseModel):
    """One entry of `GET /cds-services` (CDS Hooks 2.0 §Discovery); `extension` is allowed."""

    model_config = ConfigDict(extra="forbid")

    hook: str = Field(min_length=1)
    id: str = Field(min_length=1)
    title: str | None = None
    description: str = Field(min_length=1)
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None
    extension: dict[str, Any] | None = None


class Discovery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: list[DiscoveryService]
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> Discovery:
        ids = [s.id for s in self.services]
        if len(ids) != len(set(ids)):
            raise ValueError("service ids must be unique")
        return self


def _registry() -> Registry:
    """The service's own registry: its decoder and its service per hook."""
    from cds_service.tools.request_builder import registry

    return registry()


def _collect(result: FileResult, check: Callable[[], object], *, fhir: bool = False) -> bool:
    """Run a pydantic validation; record each error with its JSON path. True when it passed."""
    try:
        check()
    except ValidationError as exc:
        result.errors.extend(_problem(e, fhir) for e in exc.errors(include_url=False))
        return False
    return True


def _problem(error: ErrorDetails, fhir: bool) -> Problem:
    """pydantic's wording, made readable; fhir.resources adds `root` steps and parses a string
    given for a complex type as JSON ("Invalid JSON"): say what was wrong instead."""
    loc = [p for p in error["loc"] if not (fhir and p == "root")]
    kind = error["type"]
    message = error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = "unknown element"
    elif kind == "missing":
        message = "required, missing"
    elif kind == "json_invalid" and fhir:
        message = f"expected an object, got {type(error.get('input')).__name__}"
    return Problem(json_path(loc), message)


# --- output -----------------------------------------------------------------------------------


def print_result(out: Console, result: FileResult) -> None:
    kind = f" ({result.kind.value})" if result.kind else ""
    if result.valid:
        out.print(Text.assemble(("✓ ", "green"), str(result.file), kind))
    else:
        count = len(result.errors)
        out.print(
            Text.assemble(
                ("✗ ", "bold red"),
                str(result.file),
                kind,
                f": {count} error{'s' if count != 1 else ''}",
            )
        )
    for problem in result.errors[:MAX_SHOWN]:
        out.print(Text(f"    {problem}"))
    if len(result.errors) > MAX_SHOWN:
        out.print(Text(f"    … and {len(result.errors) - MAX_SHOWN} more", style="dim"))
    for problem in result.warnings:
        out.print(Text(f"    warning: {problem}", style="yellow"))
