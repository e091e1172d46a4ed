"""Localised CDS Hooks cards from rule findings: wording is data (messages/<locale>/*.json)."""
