"""Findings -> CDS Hooks cards. Text, sources and codes live in the top-level `cards/` data.

catalog.py loads and checks the content at start-up; render.py builds the cards; actions.py
builds the suggestion actions (FHIR resources); escape.py keeps patient data inert in text.
"""
