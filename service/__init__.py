"""cementoplasty-cds: the clinical decision support behind the CDS Hooks protocol layer.

FHIR data -> `facts` (normalised patient facts) -> `rules` (pure functions) -> findings ->
`cards` (localised CDS Hooks cards). `app` builds the Flask application, `cli` the commands.
"""
