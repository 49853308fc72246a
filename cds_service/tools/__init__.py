"""Tools for integration engineers and the scenario table: hook requests from patient Bundles.

`bundles` flattens a patient Bundle the way an EHR stores it, `fhir_memory` answers our own
prefetch queries against it, `request_builder` turns it (plus draft orders) into a hook request,
and `scenarios` runs the scenario table (fixtures/scenarios/) through the real pipeline.
"""
