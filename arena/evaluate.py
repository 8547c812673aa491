"""Clean evaluation as a resumable run: predictions written to the store chunk by chunk."""

from __future__ import annotations

import time

from tqdm.auto import tqdm

from arena.classifier import Classifier, run_identity
from arena.data import LabelledData, align_labels
from arena.metrics import accuracy, examples_per_second, per_class_accuracy
from arena.scorer import Scorer
from arena.store import ExampleResult, Store


def evaluate(
    classifier: Classifier,
    data: LabelledData,
    store: Store,
    *,
    classifier_name: str,
    data_name: str,
    chunk_size: int = 256,
    progress: bool = True,
) -> dict:
    """Accuracy of ``classifier`` on ``data``; resumes a previous identical run from ``store``.

    A stochastic defense with keyed randomness (FuSE, FIVE) scores each example from its own
    random stream, the one an attack's first query of that example draws from: an example's
    prediction does not depend on ``chunk_size``, on which examples share its batch or on a resume,
    and it is the attack's original prediction.
    """
    data = align_labels(data, classifier.labels)
    config = {"fingerprint": data.fingerprint, "n": len(data), **run_identity(classifier)}
    if getattr(classifier, "keyed_randomness", False):
        config["streams"] = "per-example"  # runs stored by earlier versions drew from one shared stream
    run_id = store.start_run("eval", classifier_name, data_name, config)
    done = store.done_ids(run_id)
    todo = [(i, ex) for i, ex in enumerate(data.examples) if ex.id not in done]
    scorer = Scorer(classifier, cache_size=0)
    bar = tqdm(total=len(data), initial=len(data) - len(todo), desc="eval", unit="ex", disable=not progress)
    for start in range(0, len(todo), chunk_size):
        part = todo[start : start + chunk_size]
        began = time.perf_counter()
        probs = scorer.predict_proba([ex.input for _, ex in part], [ex.id for _, ex in part])
        per_example = (time.perf_counter() - began) / len(part)
        results = []
        for (idx, ex), row in zip(part, probs):
            pred = int(row.argmax())
            results.append(
                ExampleResult(
                    idx=idx,
                    example_id=ex.id,
                    label=ex.label,
                    original_text=ex.text,
                    text_pair=ex.text_pair,
                    original_pred=pred,
                    original_proba=[round(float(p), 6) for p in row],
                    status="correct" if pred == ex.label else "wrong",
                    seconds=per_example,
                )
            )
        store.add_results(run_id, results)
        bar.update(len(part))
    bar.close()
    results = store.results(run_id)
    eps = examples_per_second(results)
    summary = {
        "run_id": run_id,
        "classifier": classifier_name,
        "data": data_name,
        "n": len(results),
        "accuracy": round(accuracy(results), 4),
        "per_class_accuracy": {
            k: (round(v, 4) if v is not None else None)
            for k, v in per_class_accuracy(results, data.label_names).items()
        },
        "examples_per_second": round(eps, 2) if eps else None,
        "resumed": len(done),
    }
    store.finish_run(run_id, summary)
    return summary
