"""Serve a classifier over HTTP the way ``arena`` expects, to try ``arena score`` on an endpoint.

    python examples/serve_classifier.py [--classifier default] [--port 8765]
    arena score --classifier http://127.0.0.1:8765/predict --data builtin --n 40

POST ``{"texts": [...]}`` to ``/predict`` -> ``{"probs": [[...], ...], "labels": [...]}``. Binds
127.0.0.1 only; refuses bodies over 1 MB and batches over 256 texts. Standard library only (plus
the arena classifier it wraps).
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
MAX_TEXTS = 256


def make_handler(classifier):
    """A request handler class answering ``/predict`` with ``classifier``'s probabilities."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != "/predict":
                return self._answer(404, {"error": "POST to /predict"})
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._answer(413, {"error": f"body over {MAX_BODY} bytes"})
            try:
                texts = json.loads(self.rfile.read(length))["texts"]
                if not isinstance(texts, list) or len(texts) > MAX_TEXTS:
                    raise ValueError(f"'texts' must be a list of at most {MAX_TEXTS} texts")
                probs = classifier.predict_proba([t if isinstance(t, str) else tuple(t) for t in texts])
            except (ValueError, KeyError, TypeError) as exc:
                return self._answer(400, {"error": str(exc)})
            self._answer(200, {"probs": probs.tolist(), "labels": list(classifier.labels)})

        def _answer(self, code: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:  # quiet
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Load the classifier and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", default="default", help="any arena classifier spec")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    from arena.classifier import load_classifier

    server = ThreadingHTTPServer((args.host, args.port), make_handler(load_classifier(args.classifier)))
    print(f"serving {args.classifier} on http://{args.host}:{args.port}/predict", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
