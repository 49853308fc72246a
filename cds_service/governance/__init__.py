"""Governance: the site file (rule modes, cut-offs, budget per site) and source attributes."""
