"""CDS Hooks 2.0 wire types: the hook list, the request as decoded at the edge, the FHIR
resource views inside it, and the response. A leaf package: it imports nothing else of the
service but `cds_service.errors`, and `fhir/`, `cards/`, `hooks/` and `api/` all import it.
"""
