"""FireArena's Gradio app: type a text, see the classifier's class probabilities.

    python app.py [--classifier default] [--host 127.0.0.1] [--port 7860]

Safe by default: binds 127.0.0.1 unless ``--host`` says otherwise, caps input length, and
runs at most two requests at once. The classifier is chosen when the server starts, never
from what a visitor types.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

MAX_CHARS = 5000


def build_app(classifier_spec: str = "default"):
    """The Blocks app around one classifier (loaded once, queried through a Scorer)."""
    import gradio as gr

    from arena.classifier import load_classifier
    from arena.scorer import Scorer

    scorer = Scorer(load_classifier(classifier_spec), cache_size=10_000)

    def classify(text: str) -> dict[str, float]:
        text = (text or "").strip()
        if not text:
            raise gr.Error("Type a text first.")
        if len(text) > MAX_CHARS:
            raise gr.Error(f"Text is {len(text)} characters; the limit is {MAX_CHARS}.")
        probs = scorer.predict_proba([text])[0]
        return {label: float(p) for label, p in zip(scorer.labels, probs)}

    with gr.Blocks(title="FireArena") as demo:
        gr.Markdown(f"# FireArena\nClassifier: `{classifier_spec}`")
        with gr.Tab("Classify"):
            text = gr.Textbox(label="Text", lines=4, max_length=MAX_CHARS, placeholder="a warm, funny and beautifully acted film")
            button = gr.Button("Classify", variant="primary")
            probs = gr.Label(label="Class probabilities")
            button.click(classify, inputs=text, outputs=probs)
            text.submit(classify, inputs=text, outputs=probs)
    demo.queue(default_concurrency_limit=2)
    return demo


def main(argv: list[str] | None = None) -> None:
    """Parse options and serve the app."""
    parser = argparse.ArgumentParser(description="FireArena Gradio app")
    parser.add_argument("--classifier", default="default")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: localhost only)")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    build_app(args.classifier).launch(server_name=args.host, server_port=args.port, share=False)


if __name__ == "__main__":
    main()
