"""The floor: the least a Flask app under the same gunicorn can do for a hook call.

Its only route parses the JSON body exactly as the service receives it and answers no cards.
The benchmark measures the service against this app, started with the same gunicorn settings,
so the ratio shows what the service itself costs, whatever the machine's speed.

Run: gunicorn --no-control-socket -k gthread --threads 8 -w 2 -b 127.0.0.1:PORT bench.floor_app:app
"""

from __future__ import annotations

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/cds-services/<service_id>")
    def call_service(service_id: str) -> dict[str, list[object]]:
        request.get_json()
        return {"cards": []}

    return app


app = create_app()
