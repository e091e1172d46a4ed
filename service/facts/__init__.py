"""FHIR R4 data turned into plain, normalised patient facts (units converted, codes matched)."""
