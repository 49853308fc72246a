"""From FHIR to facts: FHIR JSON dicts in, plain immutable `PatientFacts` out.

Entry points (everything else is internal):
    terminology.get_terminology() / Terminology.load()   code -> group lookups (data/)
    facts.build_facts(...)                                the patient, for the rules
    orders.read_draft_orders(...)                         the hook's draft orders
    units.to_canonical(...)                               the one unit converter
    egfr.ckd_epi_2021(...)                                eGFR when none is reported
"""
