"""Benchmark harness: the service against its floor (a bare Flask app), loaded by wrk."""
