"""What several test folders share: the one set of FHIR and hook-request builders
(`fhir_builders`, also used by fixtures/, scripts/ and bench/), what the service receives for a
hook call (`hook_calls`), facts and moments (`rule_facts`, `scenarios`, `moment_support`), the
FHIR stubs (`cds_support`: in-process with `responses`; `fhir_stub`: the one real server, with
data, fault modes and scripted answers, also run by the benchmark), the live-service helpers
(`e2e_servers`, `reliability_support`, `private_postgres`), the shared folder (`shared_data`),
the browser (`browser`), and the wire checks (`cds_hooks_spec`, `fixture_http`)."""
