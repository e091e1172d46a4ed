"""The CDS Hooks 2.0 protocol: wire models, card builders, prefetch, client auth, Flask blueprint.

Nothing clinical lives here: a CDS service plugs into this package through `cds_hooks.service`.
"""
