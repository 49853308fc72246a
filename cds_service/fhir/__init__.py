"""Getting the FHIR data a hook call needs: from `prefetch`, else from the EHR's `fhirServer`.

errors       the error tree; httpx exceptions are translated here
access       FhirAccessPolicy: the SSRF guard (which bases and URLs we may call)
client       FhirClient: one pooled httpx client, one safe GET
templates    prefetch token expansion, values URL-encoded
bundles      reading Bundles and OperationOutcomes defensively
fetching     FetchLimits, FhirCall, paging within limits
prefetch     resolve_prefetch: supplied / null / fetched / failed per key
medications  resolve_medication_references: medicationReference -> Medication
"""
