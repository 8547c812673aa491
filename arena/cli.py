"""The ``arena`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from arena.attack_options import AttackOptions
from arena.options import add_options, from_options, option_values, positive_int, unit_fraction


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",")] if value else None


def positive_float(value: str) -> float:
    """argparse type of a duration or amount that must be above 0."""
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return number


def run_ids(value: str) -> list[str]:
    """Comma-separated run ids (or starts of them), at least one."""
    ids = [run for run in _split(value) or [] if run]
    if not ids:
        raise argparse.ArgumentTypeError("give at least one run id (`arena runs` lists them)")
    return ids


def output_folder(value: str) -> str:
    """argparse type of a folder a command writes: created if missing, but not an existing file."""
    if Path(value).expanduser().is_file():
        raise argparse.ArgumentTypeError(f"{value}: is a file; give a folder (it is created if missing)")
    return value


def output_file(value: str) -> str:
    """argparse type of a file a command writes: not an existing folder."""
    if Path(value).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"{value}: is a folder; give a file path")
    return value


def add_data_options(parser: argparse.ArgumentParser, default: str | None = "builtin") -> None:
    """The data spec plus its column/label options."""
    parser.add_argument(
        "--data",
        default=default,
        required=default is None,
        help="builtin (120 movie-review sentences, shipped) | hf:NAME[:CONFIG][:SPLIT] | file.csv/.tsv/.jsonl | "
        "TextFooler file (LABEL TEXT per line) | aclImdb folder",
    )
    parser.add_argument("--text-col", help="text column (name, or 0-based index for files without a header)")
    parser.add_argument("--label-col", help="label column")
    parser.add_argument("--pair-col", help="second-segment column (NLI hypothesis)")
    parser.add_argument("--labels", help="comma-separated label names, index = label id")


def add_sample_options(parser: argparse.ArgumentParser, what: str = "use", seed_default: int | None = None) -> None:
    """``--n``, ``--sample`` and ``--seed``: which examples of ``--data`` a command takes."""
    from arena.data import DEFAULT_SAMPLE, SAMPLES

    parser.add_argument("--n", type=positive_int, help=f"{what} N examples of --data (default: all)")
    parser.add_argument(
        "--sample",
        default=DEFAULT_SAMPLE,
        choices=SAMPLES,
        help="how --n picks: balanced = the classes take turns (label 0, 1, 0, 1...), so every class is in; "
        "first = the first N rows",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=seed_default,
        help="seed of the sample: shuffle each class (balanced) or the whole set (first) before taking --n"
        + (" (default: file order)" if seed_default is None else ""),
    )


def load_data_from_args(
    args: argparse.Namespace, n: int | None = None, seed: int | None = None, spec: str | None = None
):
    """Load ``--data`` (or the data ``spec``) with the column and sample options."""
    from arena.data import load_data

    return load_data(
        spec or args.data,
        n=n,
        seed=seed,
        text_col=args.text_col,
        label_col=args.label_col,
        pair_col=args.pair_col,
        labels=_split(args.labels),
        sample=getattr(args, "sample", "first"),  # training commands: the first N after a seeded shuffle
        max_words=getattr(args, "max_words", None),
    )  # attack commands


CLASSIFIER_HELP = (
    "default (offline MiniLM sentiment) | trained folder | HF id or folder | module:function | http://host:port/path"
    " | a defense: plain | fuse | five (wrap --base) | fact[:PATH] | fuse+fact[:PATH] | five+fact[:PATH] (no PATH: "
    "the packaged FACT model); `arena list classifiers`"
)
SYNONYMS_HELP = (
    "synonym source: counterfitted (the counter-fitted neighbour table shipped in the package) | "
    "neighbors:PATH.json[.gz] | vectors:PATH.txt | wordnet | textattack | auto (= counterfitted)"
)


def add_classifier_options(parser: argparse.ArgumentParser, single: bool = True) -> None:
    """``--classifier`` (``single``; else the command names its classifiers otherwise) plus the
    options every classifier-loading command shares."""
    from arena.resources import HTTP_TIMEOUT
    from arena.zoo import DEFAULT_SYNONYMS

    if single:
        parser.add_argument(
            "--classifier", default="default", help=f"the classifier to evaluate or attack: {CLASSIFIER_HELP}"
        )
        parser.add_argument(
            "--defender", dest="classifier", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )  # old name of --classifier
    parser.add_argument("--base", default="default", help="base classifier that plain/fuse/five wrap")
    parser.add_argument("--defense-seed", type=int, default=0, help="seed of stochastic defenses (FuSE, FIVE, noise)")
    parser.add_argument(
        "--stochastic",
        action="store_true",
        help="the classifier is randomized (a callable or endpoint that draws): never cached, attacked adaptively",
    )
    parser.add_argument("--synonyms", default=DEFAULT_SYNONYMS, help=f"{SYNONYMS_HELP} (attacks and FuSE)")
    parser.add_argument("--max-length", type=positive_int, default=256, help="truncation length in tokens (HF models)")
    parser.add_argument(
        "--http-timeout",
        type=positive_float,
        default=HTTP_TIMEOUT,
        help="seconds an HTTP classifier's request may take in all, retries included",
    )
    parser.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when present)")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="autocast for HF models: auto = bf16/fp16 on CUDA, fp32 on CPU; "
        "bf16 helps only on CPUs with AVX512-BF16/AMX (measured 1.6-1.8x faster; ~6x slower without)",
    )


def load_classifier_from_args(args: argparse.Namespace, spec: str):
    """Build the classifier named on the command line (``--stochastic``: marked randomized)."""
    from arena.zoo import build_defender

    classifier = build_defender(
        spec,
        args.base,
        synonyms=args.synonyms,
        seed=args.defense_seed,
        labels=_split(getattr(args, "classifier_labels", None)),
        max_length=args.max_length,
        device=args.device,
        precision=args.precision,
        http_timeout=args.http_timeout,
    )
    if args.stochastic:
        classifier.stochastic = True
    return classifier


def _eval_key(args: argparse.Namespace) -> dict:
    """The names ``arena eval`` stores a run under (:func:`arena.zoo.eval_key`)."""
    from arena.zoo import eval_key

    return eval_key(
        args.classifier,
        args.data,
        n=args.n,
        data_seed=args.seed,
        sample=args.sample,
        base=args.base,
        synonyms=args.synonyms,
        defense_seed=args.defense_seed,
    )


def cmd_list(args: argparse.Namespace) -> int:
    """`arena list`: the names a command takes (attacks, defenses, recipes, classifiers, synonyms)."""
    from arena import zoo

    if args.what == "recipes":
        from attackers.recipes import recipe_names, recipe_status

        rows = {f"textattack:{name}": recipe_status(name) for name in recipe_names()}
    elif args.what == "synonyms":
        from arena.synonyms import SYNONYM_SOURCES

        rows = dict(
            zip(
                SYNONYM_SOURCES,
                (
                    "the counter-fitted neighbour table shipped in the package (default; source and licence "
                    "in arena/assets/counterfitted_neighbors.LICENSE)",
                    "a JSON {word: [neighbours]} table (.json or .json.gz)",
                    "word vectors as text (word v1 ... vd per line): top-k neighbours by cosine",
                    "WordNet (nltk's corpus or Debian's wordnet-base files)",
                    "TextAttack's downloaded paragramcf embedding",
                    "the same as counterfitted",
                ),
            )
        )
    else:
        rows = {"attacks": zoo.ATTACKER_HELP, "defenses": zoo.DEFENSE_HELP, "classifiers": zoo.CLASSIFIER_HELP}[
            args.what
        ]
    if args.json:
        print(json.dumps(rows))
    else:
        width = max(map(len, rows))
        print("\n".join(f"{name:<{width}}  {text}" for name, text in rows.items()))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`arena export`: a run's per-example results as CSV or JSONL."""
    import csv
    from dataclasses import asdict

    from arena.store import Store

    names = _split(args.labels)
    with Store(existing_store(args.db), read_only=True) as store:
        run = store.run(store.find_run(args.run))
        results = store.results(run["run_id"])
    rows = []
    for result in results:
        row = {"run_id": run["run_id"], **asdict(result)}
        if names:
            for key in ("label", "original_pred", "perturbed_pred"):
                row[f"{key}_name"] = names[row[key]] if row[key] is not None and row[key] < len(names) else None
        rows.append(row)
    out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout
    try:
        if args.format == "jsonl":
            out.writelines(json.dumps(row) + "\n" for row in rows)
        else:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["run_id"])
            writer.writeheader()
            writer.writerows(
                {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()} for row in rows
            )
    finally:
        if args.out:
            out.close()
    if args.out:
        print(
            f"wrote {len(rows)} results of run {run['run_id']} ({run['kind']}: {run['defender']}"
            + (f" vs {run['attacker']}" if run["attacker"] else "")
            + f" on {run['data']}) to {args.out}"
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """`arena info`: versions, devices and every offline resource, found or missing."""
    import platform
    from importlib import metadata

    import torch

    from arena.resources import offline_resources, pick_device

    versions = {"python": platform.python_version()}
    for package in (
        "firearena",
        "torch",
        "transformers",
        "sentence-transformers",
        "peft",
        "nltk",
        "textattack",
        "gradio",
        "datasets",
        "numpy",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    device = pick_device()
    info = {
        "versions": versions,
        "device": str(device)
        + (
            f" ({torch.cuda.get_device_name(device)})"
            if device.type == "cuda"
            else f" ({torch.get_num_threads()} threads)"
        ),
        "offline_resources": offline_resources(),
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print("FireArena")
    width = max(len(key) for values in info.values() if isinstance(values, dict) for key in values)
    for section, values in info.items():
        if isinstance(values, dict):
            print(f"{section}:")
            for key, value in values.items():
                print(f"  {key:{width}s}  {value}")
        else:
            print(f"{section}: {values}")
    return 0


def warn_overlap(args: argparse.Namespace, spec: str, data) -> None:
    """One line on stderr when ``data`` overlaps the training file that the classifier's folder
    records (and that is here): its figures would mix seen and unseen examples."""
    from arena.data import DataError, load_data
    from arena.overlap import overlap, training_file
    from arena.zoo import classifier_folder

    folder = classifier_folder(spec, args.base)
    train = training_file(folder) if folder else None
    if train is None:
        return
    try:
        report = overlap(load_data(str(train)), data)
    except DataError:
        return
    if report.exact + report.span:
        print(
            f"warning: {report.exact + report.span} of {report.n} examples of {args.data} "
            f"are in {spec}'s training file {train} "
            f"({report.exact} exactly, {report.span} by {report.ngram}-word spans), so its figures mix seen and unseen "
            f"examples; `arena overlap --train {train} --data {args.data} --out CLEAN` writes the clean part",
            file=sys.stderr,
        )


def cmd_overlap(args: argparse.Namespace) -> int:
    """`arena overlap`: how much of an evaluation set is in a training file; the clean subset."""
    from arena.data import load_data
    from arena.overlap import overlap, write_subset

    train = load_data(
        args.train, text_col=args.train_text_col, label_col=args.train_label_col, labels=_split(args.train_labels)
    )
    data = load_data_from_args(args)
    report = overlap(train, data, args.ngram)
    summary = {"train": args.train, "data": args.data, **report.summary()}
    if args.out:
        summary["out"], summary["format"] = args.out, write_subset(data, report.clean_examples, args.out)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"{args.data}: {report.n} examples; in {args.train}: {report.exact} exactly (letters and digits, lower-cased), "
        f"{report.span} more by a shared {report.ngram}-word span; clean: {report.clean}"
    )
    if args.out:
        print(f"wrote the {report.clean} clean examples to {args.out} ({summary['format']})")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """`arena eval`: clean accuracy of a classifier or defense, stored and resumable."""
    from arena.evaluate import evaluate
    from arena.store import Store

    data = load_data_from_args(args, n=args.n, seed=args.seed)
    warn_overlap(args, args.classifier, data)
    classifier = load_classifier_from_args(args, args.classifier)
    with Store(args.db) as store:
        summary = evaluate(classifier, data, store, **_eval_key(args), progress=not args.json)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"classifier  {summary['classifier']}")
    print(f"data        {summary['data']}  (n={summary['n']})")
    print(f"accuracy    {summary['accuracy']:.4f}")
    for name, value in summary["per_class_accuracy"].items():
        print(f"  {name:10s}{'-' if value is None else f'{value:.4f}'}")
    print(f"examples/s  {summary['examples_per_second']}")
    print(
        f"run         {summary['run_id']} in {args.db}"
        + (f" (resumed {summary['resumed']} done)" if summary["resumed"] else "")
    )
    return 0


def _attack_options(args: argparse.Namespace):
    """The word-swap attack options ``arena match`` was given."""
    return from_options(AttackOptions, args, synonyms=args.synonyms, device=args.device)


def _match_key(args: argparse.Namespace, defender_spec: str, stochastic: bool | None = None) -> dict:
    """The names and config ``arena match`` stores a run under (:func:`arena.zoo.match_key`);
    ``stochastic``: whether the loaded defender is randomized (None: as its name says)."""
    from arena.zoo import match_key

    return match_key(
        defender_spec,
        args.attacker,
        _attack_options(args),
        args.data,
        n=args.n,
        data_seed=args.seed,
        sample=args.sample,
        base=args.base,
        defense_seed=args.defense_seed,
        max_length=args.max_length,
        stochastic=args.stochastic or stochastic,
    )


def _run_match_from_args(args: argparse.Namespace, defender_spec: str):
    """Load data, defender and attacker from the options; run (or resume) the match, on
    ``--workers`` local workers or a ``--ray`` cluster when asked; return (summary, the run's
    results, the defender)."""
    from dataclasses import asdict

    from arena.executor import make_executor
    from arena.match import restore_texts, run_match
    from arena.matchup import Matchup
    from arena.store import Store
    from arena.zoo import build_attacker

    if args.shard is not None and (args.workers > 1 or args.ray):
        raise ValueError("--shard K/N takes no --workers or --ray (the executor splits the run itself)")
    data = load_data_from_args(args, n=args.n, seed=args.seed)
    warn_overlap(args, defender_spec, data)
    defender = load_classifier_from_args(args, defender_spec)
    attacker = build_attacker(args.attacker, _attack_options(args))
    matchup = Matchup(**{**asdict(_matchup_template(args)), "defender": defender_spec, "attacker": args.attacker})
    executor = make_executor(args.workers, args.ray)
    try:
        with Store(args.db) as store:
            summary = run_match(
                defender,
                attacker,
                data,
                store,
                **_match_key(args, defender_spec, getattr(defender, "stochastic", False)),
                query_budget=args.query_budget,
                progress=not args.json,
                shard=args.shard,
                executor=executor,
                matchup=matchup,
            )
            results = restore_texts(
                store.results(summary["run_id"]), data, getattr(attacker, "replayable_swaps", False)
            )
    finally:
        executor.close()
    return summary, results, defender


def cmd_premade(args: argparse.Namespace) -> int:
    """`arena premade`: the successful adversarial examples of an attack, with their true labels, as JSONL."""
    from arena.match import adversarial_examples

    folder = Path(args.out).parent
    try:  # before the attack, not after it
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {args.out}: cannot create its folder {folder} ({exc.strerror})") from exc
    summary, results, defender = _run_match_from_args(args, args.classifier)
    if args.shard is not None:  # one machine's part: the whole run's examples are written by a run without --shard
        print(f"attacked part of the run; `arena premade` with the same options and no --shard writes {args.out}")
        return 0
    kept = adversarial_examples(results)
    with open(args.out, "w", encoding="utf-8") as handle:
        for ex in kept:
            row = {"text": ex.text} if ex.text_pair is None else {"premise": ex.text, "hypothesis": ex.text_pair}
            row.update(label=ex.label, label_name=defender.labels[ex.label], id=ex.id)
            handle.write(json.dumps(row) + "\n")
    summary["premade"] = {"out": args.out, "examples": len(kept)}
    print(
        json.dumps(summary)
        if args.json
        else f"wrote {len(kept)} successful adversarial examples (true labels) to {args.out}"
    )
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    """`arena match`: one attacker against one defender, stored and resumable."""
    from arena.match import mark_changes

    summary, results, defender = _run_match_from_args(args, args.classifier)
    shown = [r for r in results if r.status == "succeeded" and r.perturbed_text][
        : args.show
    ]  # not results merged --no-texts
    if args.json:
        print(json.dumps(summary))
        return 0
    print_attack_summary(summary)
    if not summary["complete"]:
        print(
            f"partial run: the figures above cover the {summary['n']} examples with results so far; "
            "the other shards finish it "
            f"(`arena runs --db {args.db}` shows how far it got; `arena merge` joins stores from other machines)"
        )
    for result in shown:
        changed = result.extra.get("changed", [])
        labels = defender.labels
        print(
            f"\n--- {result.example_id}: {labels[result.original_pred]} ({max(result.original_proba):.0%}) -> "
            f"{labels[result.perturbed_pred]} ({max(result.perturbed_proba):.0%}), "
            f"{len(changed)} word(s), {result.queries} queries"
        )
        original = result.original_segment
        print("  original:    " + mark_changes(original, changed, "original"))
        if "added_tokens" in result.extra and result.perturbed_text.startswith(original):  # an RL continuation
            print(f"  adversarial: {original} [[{result.perturbed_text[len(original) :].strip()}]]")
        else:
            print("  adversarial: " + mark_changes(result.perturbed_text, changed, "perturbed"))
    return 0


def print_attack_summary(summary: dict) -> None:
    """TextAttack-style results table."""

    def fmt(value, suffix=""):
        return "-" if value is None else (f"{value:.2%}" if suffix == "%" else f"{value}{suffix}")

    rows = [
        ("Number of successful attacks", summary["succeeded"]),
        ("Number of failed attacks", summary["failed"]),
        ("Number of skipped attacks", summary["skipped"]),
        ("Original accuracy", fmt(summary["clean_accuracy"], "%")),
        ("Accuracy under attack", fmt(summary["accuracy_under_attack"], "%")),
        ("Attack success rate", fmt(summary["attack_success_rate"], "%")),
        (
            "Average perturbed word %",
            fmt(summary["avg_perturbed_words_pct"], "%")
            if summary["avg_perturbed_words_pct"] is None
            else f"{summary['avg_perturbed_words_pct']:.2f}%",
        ),
        ("Average num. words per input", fmt(summary["avg_words_per_input"])),
        ("Avg num queries", fmt(summary["avg_queries"])),
        ("Average similarity (successful)", fmt(summary["avg_similarity"])),
        ("Examples per second", fmt(summary["examples_per_second"])),
    ]
    if "reward_hacking_gap" in summary:
        rows += [
            ("Defender P(target)", fmt(summary["defender_target_p"])),
            ("Judge P(target)", fmt(summary["judge_target_p"])),
            ("Reward-hacking gap", fmt(summary["reward_hacking_gap"])),
        ]
    if "avg_added_tokens" in summary:
        rows += [("Avg added tokens", fmt(summary["avg_added_tokens"]))]
    if "eval_judge_agreement" in summary:
        rows += [("Eval-judge agreement (successful)", fmt(summary["eval_judge_agreement"], "%"))]
    width = max(len(name) for name, _ in rows)
    print(
        f"{summary['attacker']} vs {summary['defender']} on {summary['data']}  (run {summary['run_id']}"
        + (f", resumed {summary['resumed']} done" if summary.get("resumed") else "")
        + ")"
    )
    print("+" + "-" * (width + 2) + "+" + "-" * 12 + "+")
    for name, value in rows:
        print(f"| {name:<{width}} | {str(value):>10} |")
    print("+" + "-" * (width + 2) + "+" + "-" * 12 + "+")


def _matchup_template(args: argparse.Namespace):
    from dataclasses import asdict

    from arena.tournament import Matchup

    opts = {k: v for k, v in asdict(_attack_options(args)).items() if k not in ("synonyms", "device")}
    return Matchup(
        db=args.db,
        defender="",
        attacker=None,
        data=args.data,
        n=args.n,
        seed=args.seed,
        sample=args.sample,
        base=args.base,
        synonyms=args.synonyms,
        defense_seed=args.defense_seed,
        max_length=args.max_length,
        precision=args.precision,
        device=args.device,
        query_budget=args.query_budget,
        labels=tuple(_split(args.classifier_labels) or ()) or None,
        options=opts,
        stochastic=args.stochastic,
        http_timeout=args.http_timeout,
        data_options={
            key: value
            for key, value in (
                ("text_col", args.text_col),
                ("label_col", args.label_col),
                ("pair_col", args.pair_col),
                ("labels", _split(args.labels)),
                ("max_words", args.max_words),
            )
            if value is not None
        },
    )


def _play_tournament(args: argparse.Namespace, defenders: list[str], attackers: list[str]) -> dict:
    from arena.executor import make_executor
    from arena.store import Store
    from arena.tournament import leaderboard, run_tournament

    if args.text_col or args.label_col or args.pair_col or args.labels:
        raise ValueError(
            "tournaments read --data with its default columns; "
            "convert the file or use a TextFooler/TSV file with text,label"
        )
    baseline = getattr(args, "baseline", None)
    if baseline is not None and baseline not in defenders:  # before hours of attacks, not after
        raise ValueError(f"--baseline {baseline!r} is not one of the defenders: {', '.join(defenders)}")
    say = None if args.json else (lambda what: print(f"  playing {what}", file=sys.stderr, flush=True))
    executor = make_executor(args.workers, args.ray)
    try:
        tid = run_tournament(defenders, attackers, _matchup_template(args), executor=executor, progress=say)
    finally:
        executor.close()
    with Store(args.db) as store:
        return leaderboard(store, tid, baseline)


def _write_leaderboard(board: dict, out: str | None) -> list[str]:
    from arena.tournament import heatmap_png, render_leaderboard

    if not out:
        return []
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaderboard.md").write_text(render_leaderboard(board))
    (folder / "leaderboard.json").write_text(json.dumps(board, indent=1))
    heatmap_png(board, folder / "heatmap.png")
    return [str(folder / n) for n in ("leaderboard.md", "leaderboard.json", "heatmap.png")]


def cmd_tournament(args: argparse.Namespace) -> int:
    """`arena tournament`: every attacker against every defender, and the leaderboard."""
    from arena.tournament import render_leaderboard

    if not args.classifiers:
        raise ValueError("give --classifiers, comma-separated (e.g. plain,fuse,five)")
    board = _play_tournament(args, _split(args.classifiers), _split(args.attackers) or [])
    files = _write_leaderboard(board, args.out)
    print(
        json.dumps({**board, "files": files})
        if args.json
        else render_leaderboard(board) + "".join(f"\nwrote {f}" for f in files)
    )
    return 0


def existing_store(path: str) -> str:
    """``path`` when a results store is there (a Store would create one: a command that only reads must not)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"--db {path}: no such results store")
    return path


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """`arena leaderboard`: a stored tournament's leaderboard."""
    from arena.store import Store
    from arena.tournament import leaderboard, render_leaderboard

    with Store(existing_store(args.db), read_only=True) as store:
        board = leaderboard(store, args.tournament, args.baseline)
    files = _write_leaderboard(board, args.out)
    print(json.dumps({**board, "files": files}) if args.json else render_leaderboard(board))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """`arena runs`: where each run of a store stands."""
    from arena.store import Store

    with Store(existing_store(args.db), read_only=True) as store:
        runs = store.progress(args.kind)
    print(json.dumps(runs) if args.json else render_progress(runs))
    if not args.json and any(run["command"] and run["finished_at"] is None for run in runs):
        print(
            f"\nan unfinished run goes on where it stopped with `arena resume RUN --db {args.db}` "
            "(RUN: its id, or enough of it)"
        )
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    """`arena resume`: run again the `arena` command that last started an unfinished run, in the
    folder it ran in; the run goes on from its stored results."""
    import shlex

    from arena.command_seal import is_sealed
    from arena.store import Store, recording

    with Store(existing_store(args.db)) as store:  # the command it replays writes to it anyway
        run = store.run(store.find_run(args.run))
    run_id, command = run["run_id"], run["command"]
    if run["finished_at"] is not None:
        print(
            f"run {run_id} finished on "
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(run['finished_at']))}: nothing to resume"
        )
        return 0
    if command is None:
        raise ValueError(
            f"run {run_id} records no command (it was started from Python, by a bench script, or by an older "
            "arena): run again what started it, and it resumes"
        )
    argv, cwd = (command.get("argv"), command.get("cwd")) if isinstance(command, dict) else (None, None)
    if not (isinstance(argv, list) and all(isinstance(word, str) for word in argv) and isinstance(cwd, str)):
        raise ValueError(f"run {run_id}: its recorded command is malformed; nothing was run")
    by_hand = f"check it, then run it yourself if you trust it: cd {shlex.quote(cwd)} && arena {shlex.join(argv)}"
    if not command.get("replayable", True):
        raise ValueError(
            f"run {run_id} was started by a command whose Python-callable classifier lives outside the store's "
            f"folder, so it is not replayed; {by_hand}"
        )
    if not is_sealed(command, args.db):
        raise ValueError(
            f"run {run_id}: its recorded command was not recorded by you in this store's folder (a copied, "
            f"downloaded or hand-made store, or one from before commands were sealed), so it is not run; {by_hand}"
        )
    if not Path(cwd).is_dir():
        raise FileNotFoundError(f"run {run_id} was started in {cwd}, which is not there any more")
    writes_to = Path(cwd, build_parser().parse_args(argv).db)
    if writes_to.resolve() != Path(args.db).resolve():
        raise ValueError(
            f"run {run_id} was started by a command that writes to {writes_to}, not {args.db} (a copied or "
            f"moved store): resume it there, or run its command again with --db {args.db}"
        )
    print(f"resuming run {run_id} in {cwd}: arena {shlex.join(argv)}", file=sys.stderr)
    here = os.getcwd()
    try:
        os.chdir(cwd)
        with recording(command):  # the resumed run keeps recording its own command
            return main(argv)
    finally:
        os.chdir(here)


def cmd_merge(args: argparse.Namespace) -> int:
    """`arena merge`: other stores' runs and results copied into ``--db``."""
    import tempfile

    from arena.store import Store

    added = {}
    dump = Path(args.db) if args.db.endswith(".jsonl") else None  # a text dump: merged in a scratch store, written back
    target = Path(args.db)
    created = not target.exists()
    try:
        with tempfile.TemporaryDirectory() as scratch, Store(Path(scratch) / "store.db" if dump else args.db) as store:
            if dump and dump.exists():
                store.load(dump)
            for source in args.sources:
                added[source] = store.merge(source, args.runs, texts=not args.no_texts)
            if dump:
                store.dump(dump)
    except BaseException:
        if created and not dump:  # a store this command began holds nothing worth keeping
            for leftover in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
                leftover.unlink(missing_ok=True)
        raise
    if args.json:
        print(json.dumps(added))
    else:
        for source, counts in added.items():
            print(f"{source}: {counts['runs']} new runs, {counts['results']} new results into {args.db}")
    return 0


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (``--shard``) as (K, N), with 0 <= K < N; a clear error otherwise."""
    k, slash, n = text.partition("/")
    if not (slash and k.strip().isdigit() and n.strip().isdigit() and 0 <= int(k) < int(n)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected K/N with 0 <= K < N, e.g. 0/2 and 1/2 for two processes")
    return int(k), int(n)


def render_progress(runs: list[dict]) -> str:
    """The runs of a store as an aligned text table: each defender with the settings its name
    leaves out (``fuse[default]... (similarity_check=false)``), how far each got, its outcome so far, its
    model time per example and, for a partial run, the time the rest would take at that pace,
    shared by as many processes as were writing its newest results."""
    from arena.progress import time_left

    if not runs:
        return "no runs in this store yet"
    header = (
        "run",
        "kind",
        "defender",
        "attacker",
        "data",
        "done",
        "so far",
        "s/example",
        "rest (est.)",
        "last result",
    )
    rows = [header]
    for run in runs:
        done, n, statuses = run["done"], run["n"], run["statuses"]
        if run["kind"] == "eval" and done:
            so_far = f"accuracy {statuses.get('correct', 0) / done:.3f}"
        elif run["kind"] == "match" and done:
            so_far = (
                f"under attack {statuses.get('failed', 0) / done:.3f} ({statuses.get('succeeded', 0)} succeeded, "
                f"{statuses.get('failed', 0)} failed, {statuses.get('skipped', 0)} skipped)"
            )
        else:
            so_far = "-"
        pace = run["seconds"] / done if done and run["seconds"] else None
        partial = n is not None and done < n and run["finished_at"] is None
        rest = time_left(pace, n - done, run["at_once"] or 1) if partial and pace else "-"
        last = time.strftime("%Y-%m-%d %H:%M", time.localtime(run["last_result_at"])) if run["last_result_at"] else "-"
        settings = ", ".join(
            f"{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in run["identity"].items()
        )
        defender = run["defender"] + (f" ({settings})" if settings else "")
        rows.append(
            (
                run["run_id"],
                run["kind"],
                defender,
                run["attacker"] or "-",
                run["data"],
                f"{done}/{n}" if n is not None else "-",
                so_far,
                f"{pace:.3g}" if pace else "-",
                rest,
                last,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def cmd_score(args: argparse.Namespace) -> int:
    """`arena score`: a robustness report card for one classifier."""
    from arena.report import write_report
    from arena.store import Store
    from arena.zoo import defender_name

    attackers = _split(args.attackers) or ["textfooler"]
    board = _play_tournament(args, [args.classifier], attackers)
    name = defender_name(args.classifier, args.base, args.synonyms, args.defense_seed)
    with Store(args.db) as store:
        runs = store.run(board["tournament"])["summary"]["matches"][args.classifier]
        per_attacker = {a: store.results(run_id) for a, run_id in runs.items()}
    labels = load_classifier_from_args(args, args.classifier).labels
    path = write_report(
        args.out,
        name,
        board,
        per_attacker.get("textfooler", []),
        [r for rs in per_attacker.values() for r in rs],
        list(labels),
    )
    if args.json:
        print(json.dumps({**board, "report": str(path)}))
    else:
        print(path.read_text() + f"\nwrote {path} and {path.with_suffix('.png')}")
    return 0


def harden_settings(args: argparse.Namespace):
    """``arena harden``'s settings: its own options, and the attack options (``arena match``'s
    flags) that differ from their defaults, for every attack of every round."""
    from arena.harden import HardenConfig

    defaults = AttackOptions()
    changed = {k: v for k, v in option_values(AttackOptions, args).items() if v != getattr(defaults, k)}
    return from_options(HardenConfig, args, attack_options=changed)


def cmd_harden(args: argparse.Namespace) -> int:
    """`arena harden`: attack, fine-tune on the successes, attack again; one curve over the rounds."""
    from arena.harden import harden

    cfg = harden_settings(args)
    say = None if args.json else (lambda what: print(f"  {what}", file=sys.stderr, flush=True))
    curve = harden(cfg, progress=not args.json, say=say)
    if args.json:
        print(json.dumps({"out": cfg.out, "curve": curve}))
        return 0
    attackers = list(curve[0]["under"])
    print("| round | clean | " + " | ".join(f"under {a}" for a in attackers) + " | adversarial examples |")
    print("|---:|---:|" + "---:|" * len(attackers) + "---:|")
    for entry in curve:
        added = entry.get("fine_tune", {}).get("adversarial", "-")
        print(
            f"| {entry['round']} | {entry['clean']:.3f} | "
            + " | ".join(f"{entry['under'][a]:.3f}" for a in attackers)
            + f" | {added} |"
        )
    print(f"curve: {Path(cfg.out) / 'curve.json'}, {Path(cfg.out) / 'curve.png'}")
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    """`arena train classifier`: LoRA fine-tune an encoder into a classifier folder."""
    from defenses.train import train_classifier

    data = load_data_from_args(args, n=args.n, seed=args.seed if args.n else None)
    summary = train_classifier(
        data,
        args.out,
        _train_config(args),
        val=_validation_data(args),
        device=args.device,
        progress=not args.json,
        overwrite=args.overwrite,
    )
    summary["out"] = args.out
    print(json.dumps(summary) if args.json else "\n".join(f"{k}: {v}" for k, v in summary.items()))
    return 0


def cmd_train_judge(args: argparse.Namespace) -> int:
    """`arena train judge`: fit the n-gram judge (TF-IDF + logistic regression) of RL attackers."""
    from arena.ngram import NgramClassifier

    data = load_data_from_args(args, n=args.n, seed=args.seed if args.n else None)
    if any(ex.text_pair is not None for ex in data):
        raise SystemExit("error: the n-gram judge reads single texts; this data has (premise, hypothesis) pairs")
    texts, labels = [ex.text for ex in data], [ex.label for ex in data]
    model = NgramClassifier.fit(
        texts, labels, data.label_names, ngram_range=(1, args.max_ngram), min_df=args.min_df, c=args.c
    )
    accuracy = float((model.predict_proba(texts).argmax(1) == labels).mean())
    summary = {
        "out": args.out,
        "examples": len(texts),
        "ngrams": len(model.vectorizer.vocabulary_),
        "train_accuracy": round(accuracy, 4),
    }
    model.save(args.out, {"trained_on": data.source, "examples": len(texts), "min_df": args.min_df, "c": args.c})
    print(json.dumps(summary) if args.json else "\n".join(f"{k}: {v}" for k, v in summary.items()))
    return 0


def cmd_train_fact(args: argparse.Namespace) -> int:
    """`arena train defense fact`: FACT co-tuning with SWITCH copies."""
    from dataclasses import asdict, replace

    from arena.classifier import load_classifier
    from arena.pos import PosTagger
    from arena.similarity import SentenceSimilarity
    from arena.synonyms import load_synonyms
    from arena.zoo import parse_settings
    from defenses.fact import FACT_SWITCH, FactAugmenter, train_fact

    switch = replace(
        FACT_SWITCH, **parse_settings(args.switch, asdict(FACT_SWITCH), "--switch")
    )  # checked before anything loads
    config = _train_config(args)
    data = load_data_from_args(args, n=args.n, seed=args.seed if args.n else None)
    val = _validation_data(args)
    judge = load_classifier(args.judge, max_length=args.max_length, device=args.device)
    similarity = SentenceSimilarity(device=args.device) if switch.use_similarity else None
    augmenter = FactAugmenter(judge, load_synonyms(args.synonyms), similarity, PosTagger(), switch, seed=args.seed)
    summary = train_fact(
        data,
        args.out,
        config,
        augmenter,
        judge_name=args.judge,
        val=val,
        device=args.device,
        progress=not args.json,
        overwrite=args.overwrite,
    )
    summary["out"] = args.out
    print(json.dumps(summary) if args.json else "\n".join(f"{k}: {v}" for k, v in summary.items()))
    return 0


def cmd_train_sft(args: argparse.Namespace) -> int:
    """`arena train sft`: supervised fine-tuning of a policy LM on one class's texts (an RLGF guide)."""
    import random

    from arena.data import class_index
    from policies.config import SFTConfig
    from policies.sft import train_sft

    data = load_data_from_args(args, n=None)
    target = class_index(args.target, data.label_names, f"{args.data}'s")
    texts = [ex.text for ex in data if ex.label == target]
    if args.n:
        texts = [texts[i] for i in sorted(random.Random(args.seed).sample(range(len(texts)), min(args.n, len(texts))))]
    config = from_options(SFTConfig, args)
    summary = {**train_sft(texts, args.out, config, device=args.device, progress=not args.json), "out": args.out}
    print(json.dumps(summary) if args.json else "\n".join(f"{k}: {v}" for k, v in summary.items()))
    return 0


def cmd_train_policy(args: argparse.Namespace) -> int:
    """`arena train policy`: RL fine-tuning of a causal LM (PPO, CORY, RLGF)."""
    from arena.zoo import build_defender
    from policies.config import PolicyRunConfig, PPOConfig
    from policies.train import train_policy

    cfg = from_options(PolicyRunConfig, args, out=args.out, ppo=option_values(PPOConfig, args))
    summary = train_policy(cfg, progress=not args.json, build=build_defender)
    summary["out"] = args.out
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=1))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """`arena generate`: continuations sampled from a trained policy (and scored)."""
    from policies.lm import PolicyLM

    prompts = (
        Path(args.prompts).read_text().splitlines()
        if Path(args.prompts).is_file()
        else _split(args.prompts.replace("|", ","))
    )
    prompts = [p for p in (prompts or []) if p.strip()]
    if not prompts:
        raise ValueError("--prompts: give prompts separated by '|' or a file with one prompt per line")
    torch_seed(args.seed)
    policy = PolicyLM.from_pretrained(args.policy, frozen=True, device=args.device)
    batch = policy.sample(
        [p for p in prompts for _ in range(args.samples)], args.tokens, top_k=args.top_k, top_p=args.top_p
    )
    texts = policy.texts(batch)
    scores = {}
    for spec in filter(None, (args.reward, args.judge)):
        from arena.classifier import load_classifier
        from policies.tasks import ClassifierReward

        scores[spec] = ClassifierReward(load_classifier(spec), args.target, "prob").probability(texts)
    rows = [
        {"prompt": p, "text": t, **{f"p_{args.target}[{k}]": round(float(v[i]), 4) for k, v in scores.items()}}
        for i, (p, t) in enumerate(zip([p for p in prompts for _ in range(args.samples)], texts))
    ]
    for row in rows:
        print(json.dumps(row) if args.json else " | ".join(str(v) for v in row.values()))
    return 0


def torch_seed(seed: int) -> None:
    """Seed torch's sampler."""
    import torch

    torch.manual_seed(seed)


def _train_config(args: argparse.Namespace):
    from defenses.train import TrainConfig

    return TrainConfig(
        base=args.base,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_length=args.max_length,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        warmup=args.warmup,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
    )


def _validation_data(args: argparse.Namespace):
    """``--val`` loaded with the training data's column and label options (None without it)."""
    if args.val is None:
        if args.val_n is not None:
            raise ValueError("--val-n needs --val")
        return None
    return load_data_from_args(args, n=args.val_n, seed=args.seed if args.val_n else None, spec=args.val)


def _add_train_options(parser: argparse.ArgumentParser, batch_size: int = 32) -> None:
    add_data_options(parser, default=None)
    parser.add_argument("--out", required=True, type=output_folder, help="output folder (resumes from its checkpoint)")
    parser.add_argument("--overwrite", action="store_true", help="retrain even if --out already holds a finished model")
    parser.add_argument(
        "--base",
        default="minilm",
        help="encoder to fine-tune: minilm or default "
        "(the packaged MiniLM the default classifier is built on, offline) | HF id | model folder",
    )
    parser.add_argument("--n", type=int, help="train on the first N examples (after a seeded shuffle)")
    parser.add_argument("--epochs", type=float, default=1.0, help="passes over the training data (fractions allowed)")
    parser.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (AdamW, linear decay)")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="examples per optimiser step")
    parser.add_argument("--max-length", type=int, default=64, help="truncation length in tokens")
    parser.add_argument("--lora-r", type=int, default=8, help="LoRA rank")
    parser.add_argument("--lora-alpha", type=int, default=16, help="LoRA scaling alpha")
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.06,
        help="linear warm-up, a fraction of the steps (0: none, as FACT's authors)",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=200, help="steps between checkpoints (a crash resumes from the last)"
    )
    parser.add_argument(
        "--val",
        help="validation data (same format options as --data): its loss is measured at every checkpoint "
        "and at the end, and the model of lowest validation loss is saved",
    )
    parser.add_argument("--val-n", type=int, help="validate on the first N examples of --val (after a seeded shuffle)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffle, the initialisation and --n's sample")
    parser.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when present)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary object")


def _add_attack_options(parser: argparse.ArgumentParser, attacker_flag: bool = True) -> None:
    """Data, attack tuning and store options of commands that run attacks (``--attacker`` unless told not to)."""
    from arena.data import DEFAULT_MAX_WORDS

    parser.add_argument(
        "--classifier-labels", help="comma-separated class names for callables/endpoints that do not name them"
    )
    if attacker_flag:
        parser.add_argument(
            "--attacker",
            default="textfooler",
            help="textfooler | textattack:RECIPE (e.g. textattack:pwws) "
            "| rl:DIR (a policy from `arena train policy --task attacker`)"
            " | gen:DIR (a generator policy: reward-hacking gap against the defender)",
        )
    add_data_options(parser)
    add_sample_options(parser, "attack")
    parser.add_argument(
        "--max-words",
        type=positive_int,
        default=DEFAULT_MAX_WORDS,
        help="refuse an example longer than this many words (an attack's time and memory grow with them)",
    )
    add_options(parser, AttackOptions)
    parser.add_argument("--query-budget", type=positive_int, help="maximum model queries per example")
    parser.add_argument("--db", default="arena.db", help="results store (SQLite file)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary object")


def _add_worker_options(parser: argparse.ArgumentParser, shard_help: str | None) -> None:
    """``--workers N`` and ``--ray`` (the executor), and ``--shard`` (hidden where ``shard_help`` is None)."""
    parser.add_argument("--shard", type=parse_shard, metavar="K/N", help=shard_help or argparse.SUPPRESS)
    _add_executor_options(parser)


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    """``--workers N`` and ``--ray [ADDRESS]``: where the work runs (:mod:`arena.executor`)."""
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="attack on N local workers (a local Ray when the [ray] extra is installed, else a process pool; "
        "each gets the next chunk of examples and its share of the cores); this process writes every result",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on Ray: a local Ray instance, or the cluster at ADDRESS (--workers: the tasks at once)",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """`arena demo`: the Gradio app."""
    from arena.resources import require_extra

    require_extra("gradio", "app", "arena demo")
    from app import main as app_main  # imports gradio: only for this command

    app_main(args.app_args, prog="arena demo")
    return 0


def _add_tournament_options(parser: argparse.ArgumentParser, out: str) -> None:
    """Options of commands that play tournaments: classifier/defense options minus --classifier, attack options,
    --out, --ray."""
    add_classifier_options(parser, single=False)
    _add_attack_options(parser, attacker_flag=False)
    parser.add_argument("--out", default=out, type=output_folder, help=f"folder for the written files (default: {out})")
    _add_executor_options(parser)


def _add_baseline_option(parser: argparse.ArgumentParser) -> None:
    """``--baseline``: the defender every other one's accuracy under attack is divided by."""
    parser.add_argument(
        "--baseline",
        metavar="DEFENDER",
        help="one of the defenders (e.g. plain): also show each other's accuracy under attack ÷ its, "
        "on the same examples, with a 95%% paired bootstrap interval",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``arena`` command line: one sub-command per task."""
    from arena.overlap import DEFAULT_NGRAM
    from arena.zoo import DEFAULT_SYNONYMS

    parser = argparse.ArgumentParser(prog="arena", description="FireArena: attack, defend and score NLP classifiers.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = commands.add_parser("info", help="versions, device, and which offline resources were found where")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)

    ev = commands.add_parser("eval", help="clean accuracy of a classifier on a data set (resumable run in --db)")
    add_classifier_options(ev)
    ev.add_argument(
        "--classifier-labels", help="comma-separated class names for callables/endpoints that do not name them"
    )
    add_data_options(ev)
    add_sample_options(ev, "evaluate")
    ev.add_argument("--db", default="arena.db", help="results store (SQLite file)")
    ev.add_argument("--json", action="store_true", help="print one JSON summary object")
    ev.set_defaults(func=cmd_eval)

    ma = commands.add_parser(
        "match", help="attack a defender on a data set; resumable run in --db; TextAttack-style summary"
    )
    add_classifier_options(ma)
    _add_attack_options(ma)
    ma.add_argument(
        "--show", type=int, default=2, metavar="K", help="print K adversarial examples with changed words [[marked]]"
    )
    _add_worker_options(
        ma,
        shard_help="attack only examples K, K+N, K+2N... (K from 0) of the run: N processes or machines share "
        "one run (the same results as one process); join other machines' stores with `arena merge`",
    )
    ma.set_defaults(func=cmd_match)

    pm = commands.add_parser(
        "premade", help="attack a classifier and keep its successful adversarial examples (a pre-made set)"
    )
    add_classifier_options(pm)
    _add_attack_options(pm)
    pm.add_argument(
        "--out",
        required=True,
        type=output_file,
        help="JSONL file for the adversarial examples (text or premise/hypothesis, label)",
    )
    _add_worker_options(pm, shard_help=None)  # --shard: only for the workers of an attacker that splits by shards
    pm.set_defaults(func=cmd_premade)

    train = commands.add_parser(
        "train", help="train a classifier (LoRA fine-tune), a defense (FACT), the n-gram judge or an RL policy"
    )
    what = train.add_subparsers(dest="what", metavar="WHAT", required=True)
    tc = what.add_parser("classifier", help="LoRA fine-tune an encoder into a classifier folder")
    _add_train_options(tc)
    tc.set_defaults(func=cmd_train_classifier)
    td = what.add_parser("defense", help="train a defense: fact (co-tuning on SWITCH copies)")
    td.add_argument("method", choices=["fact"], help="the defense to train: fact (FACT co-tuning on SWITCH copies)")
    _add_train_options(td, batch_size=16)
    td.add_argument("--judge", default="default", help="frozen classifier whose gradients pick SWITCH's words")
    td.add_argument("--synonyms", default=DEFAULT_SYNONYMS, help=f"{SYNONYMS_HELP} (SWITCH's candidates)")
    td.add_argument(
        "--switch",
        default="",
        help="SWITCH settings as KEY=VALUE&... (default: the paper's MNLI ones, "
        "perturb_words=9&candidates_per_word=10&multiplier=12&total_alternatives=4; "
        "its IMDB runs used perturb_words=23)",
    )
    td.set_defaults(func=cmd_train_fact)
    tj = what.add_parser("judge", help="fit the n-gram judge (TF-IDF + logistic regression) used by RL attackers")
    add_data_options(tj, default=None)
    tj.add_argument("--out", required=True, type=output_folder, help="output folder; use it as --judge ngram:FOLDER")
    tj.add_argument("--n", type=int, help="train on the first N examples (after a seeded shuffle)")
    tj.add_argument("--max-ngram", type=int, default=2, help="longest word n-gram (1: unigrams)")
    tj.add_argument("--min-df", type=int, default=2, help="drop n-grams seen in fewer texts")
    tj.add_argument("--c", type=float, default=10.0, help="inverse L2 strength of the logistic regression")
    tj.add_argument("--seed", type=int, default=0, help="seed of --n's shuffle")
    tj.add_argument("--json", action="store_true", help="print one JSON summary object")
    tj.set_defaults(func=cmd_train_judge)
    ts = what.add_parser(
        "sft", help="fine-tune a policy LM on one class's texts (LM loss, LoRA): a guide for RLGF (--guide DIR)"
    )
    add_data_options(ts, default=None)
    ts.add_argument("--target", default="positive", help="the class whose texts the guide learns (name or index)")
    ts.add_argument(
        "--out",
        required=True,
        type=output_folder,
        help="policy folder to write (resumes from its checkpoint); use as --guide DIR",
    )
    ts.add_argument(
        "--n", type=positive_int, help="train on N of the target class's texts (seeded sample; default: all)"
    )
    from policies.config import SFTConfig

    add_options(ts, SFTConfig)
    ts.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when present)")
    ts.add_argument("--json", action="store_true", help="print one JSON summary object")
    ts.set_defaults(func=cmd_train_sft)
    tp = what.add_parser(
        "policy", help="RL fine-tune a causal LM: ppo | cory | ppo++ | aggrevated | d2lols (generator task)"
    )
    from policies.config import PolicyRunConfig, PPOConfig

    add_options(tp, PolicyRunConfig)
    add_options(tp, PPOConfig)
    tp.add_argument("--out", required=True, type=output_folder, help="run folder (resumes from its checkpoint)")
    tp.add_argument("--json", action="store_true", help="print one JSON summary object")
    tp.set_defaults(func=cmd_train_policy)

    hd = commands.add_parser(
        "harden",
        help="attack the training pool, fine-tune on the successes, re-attack: rounds of adversarial training, "
        "evaluated on held-out data (curve.json, curve.png)",
    )
    from arena.harden import HardenConfig

    add_options(hd, HardenConfig)
    add_options(hd, AttackOptions)
    hd.add_argument("--json", action="store_true", help="print one JSON object: the folder and the curve")
    hd.set_defaults(func=cmd_harden)

    to = commands.add_parser(
        "tournament", help="every defender against every attacker (resumable, in --db); leaderboard + heatmap"
    )
    to.add_argument(
        "--classifiers",
        help="comma-separated classifiers and defenses, e.g. plain,fuse,five,fact (packaged) or fact:PATH",
    )
    to.add_argument(
        "--defenders", dest="classifiers", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )  # old name of --classifiers
    to.add_argument(
        "--attackers", required=True, help="comma-separated attackers, e.g. textfooler,textattack:pwws,rl:DIR"
    )
    _add_tournament_options(to, "leaderboard")
    _add_baseline_option(to)
    to.set_defaults(func=cmd_tournament)

    lb = commands.add_parser("leaderboard", help="print a tournament's leaderboard again from the store")
    lb.add_argument("--db", default="arena.db", help="results store (SQLite file)")
    lb.add_argument("--tournament", help="tournament id (default: the newest)")
    lb.add_argument("--out", type=output_folder, help="also write leaderboard.md/.json and heatmap.png to this folder")
    _add_baseline_option(lb)
    lb.add_argument("--json", action="store_true", help="print the leaderboard as one JSON object")
    lb.set_defaults(func=cmd_leaderboard)

    me = commands.add_parser(
        "merge", help="copy the runs and results of other stores into --db (a run split over machines with --shard)"
    )
    me.add_argument("sources", nargs="+", metavar="SOURCE.db", help="results stores to copy from (left unchanged)")
    me.add_argument(
        "--db",
        default="arena.db",
        help="results store to copy into (SQLite file; created if missing), or a .jsonl "
        "dump: the store as text lines, to commit or share (sources may be dumps too)",
    )
    me.add_argument(
        "--runs",
        type=run_ids,
        metavar="ID[,ID...]",
        help="copy only these runs (ids as `arena runs` shows them, or unique starts of them; "
        "each must be in every source)",
    )
    me.add_argument(
        "--no-texts",
        action="store_true",
        help="copy results without their texts (original, pair, perturbed): a store to commit or share when the "
        "data may not be passed on; outcomes, queries, word counts and the changed words are kept",
    )
    me.add_argument("--json", action="store_true", help="one JSON object: runs and results added per source")
    me.set_defaults(func=cmd_merge)

    ru = commands.add_parser(
        "runs", help="the runs in a store: how far each got, its outcome so far, time per example and left"
    )
    ru.add_argument("--db", default="arena.db", help="results store (SQLite file)")
    ru.add_argument("--kind", choices=["eval", "match", "tournament"], help="only runs of this kind")
    ru.add_argument(
        "--json", action="store_true", help="one JSON list of runs (ids, names, n, done, statuses, seconds, times)"
    )
    ru.set_defaults(func=cmd_runs)

    ex = commands.add_parser(
        "export",
        help="a run's per-example results as CSV or JSONL (original, perturbed, labels, "
        "probabilities, queries, status)",
    )
    ex.add_argument("run", help="the run's id (`arena runs` lists them), or enough of its start to tell it apart")
    ex.add_argument("--db", default="arena.db", help="results store (SQLite file)")
    ex.add_argument(
        "--format",
        default="csv",
        choices=["csv", "jsonl"],
        help="csv (lists and dicts as JSON) or one JSON object a line",
    )
    ex.add_argument("--out", type=output_file, help="file to write (default: standard output)")
    ex.add_argument(
        "--labels",
        help="comma-separated class names (index = label id): adds label_name, original_pred_name, "
        "perturbed_pred_name columns",
    )
    ex.set_defaults(func=cmd_export)

    ov = commands.add_parser(
        "overlap",
        help="how many examples of --data are in a training file (exactly or by an n-word "
        "span); --out writes the clean ones",
    )
    ov.add_argument(
        "--train", required=True, help="the training data (any data spec; its texts are what a model has seen)"
    )
    ov.add_argument("--train-text-col", help="text column of --train (default: found by name)")
    ov.add_argument("--train-label-col", help="label column of --train (default: found by name)")
    ov.add_argument("--train-labels", help="comma-separated label names of --train, if its labels need them")
    add_data_options(ov, default=None)
    ov.add_argument(
        "--ngram",
        type=positive_int,
        default=DEFAULT_NGRAM,
        help="an example sharing a run of this many words with a training text overlaps",
    )
    ov.add_argument("--out", type=output_file, help="write the clean examples here, in --data's own format")
    ov.add_argument("--json", action="store_true", help="print one JSON object: n, exact, span, clean, ngram")
    ov.set_defaults(func=cmd_overlap)

    li = commands.add_parser(
        "list", help="the names commands take: attacks, defenses, recipes (TextAttack), classifiers, synonyms"
    )
    li.add_argument(
        "what", choices=["attacks", "defenses", "recipes", "classifiers", "synonyms"], help="which names to list"
    )
    li.add_argument("--json", action="store_true", help="one JSON object: name -> description")
    li.set_defaults(func=cmd_list)

    re_ = commands.add_parser(
        "resume", help="go on with an unfinished run: run again the arena command that started it"
    )
    re_.add_argument("run", help="the run's id (`arena runs` lists them), or enough of its start to tell it apart")
    re_.add_argument("--db", default="arena.db", help="results store (SQLite file)")
    re_.set_defaults(func=cmd_resume)

    sc = commands.add_parser("score", help="robustness report card for your classifier (markdown + PNG)")
    sc.add_argument(
        "--classifier",
        required=True,
        help="module:function | file.py:function | HF id or folder | http://host:port/predict",
    )
    sc.add_argument("--attackers", default="textfooler", help="comma-separated attackers (default: textfooler)")
    _add_tournament_options(sc, "report_card")
    sc.set_defaults(func=cmd_score)

    ge = commands.add_parser("generate", help="sample continuations from a trained policy (and score them)")
    ge.add_argument(
        "--policy",
        required=True,
        help="a policy folder from `arena train policy` (DIR/policy), smollm2, or an HF causal LM",
    )
    ge.add_argument("--prompts", required=True, help="prompts separated by '|', or a file with one prompt per line")
    ge.add_argument("--samples", type=positive_int, default=1, help="samples per prompt")
    ge.add_argument("--tokens", type=positive_int, default=12, help="new tokens per sample")
    ge.add_argument("--top-k", type=int, default=0, help="sample from the k most likely tokens (0: all)")
    ge.add_argument(
        "--top-p",
        type=unit_fraction,
        default=1.0,
        help="nucleus sampling: the smallest set of tokens with this much probability",
    )
    ge.add_argument("--reward", default="default", help="classifier to score samples with ('' for none)")
    ge.add_argument("--judge", default="vader", help="second classifier to score samples with ('' for none)")
    ge.add_argument("--target", default="positive", help="class whose probability the scores report")
    ge.add_argument("--seed", type=int, default=0, help="sampling seed")
    ge.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when present)")
    ge.add_argument("--json", action="store_true", help="one JSON object per sample")
    ge.set_defaults(func=cmd_generate)

    # Every option after `demo` belongs to the app (`arena demo --help` lists them): prefix_chars="+" makes
    # this subparser pass `--port 7860` on as words instead of parsing them, so gradio loads only here.
    de = commands.add_parser(
        "demo",
        add_help=False,
        prefix_chars="+",
        help="the Gradio app (attack, perturb by hand, defend, generate, leaderboard) on 127.0.0.1",
    )
    de.add_argument("app_args", nargs="*", help="app options: see `arena demo --help`")
    de.set_defaults(func=cmd_demo)
    _use_help_formatter(parser)
    return parser


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` with every option's default (unless its help already gives it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _use_help_formatter(parser: argparse.ArgumentParser) -> None:
    """:class:`HelpFormatter` on ``parser`` and all its sub-command parsers."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _use_help_formatter(sub)


def check_specs(args: argparse.Namespace) -> None:
    """Every name a command was given (classifiers, defenses, attackers, recipes, data, synonyms,
    policies), checked before any model loads, so a mistake is reported in seconds."""
    from arena.data import check_data_spec
    from arena.synonyms import check_synonyms
    from arena.zoo import check_attacker, check_defender, check_model

    given = vars(args)
    defenders, models = classifier_specs(args)
    for spec in defenders:
        check_defender(spec, given.get("base") or "default")
    for spec, what in models:
        check_model(spec, what)
    for spec in ([given["attacker"]] if given.get("attacker") else []) + (_split(given.get("attackers")) or []):
        check_attacker(spec)
    if given.get("synonyms"):
        check_synonyms(args.synonyms)
    for key in ("data", "val"):
        if given.get(key) and not (
            args.command == "train" and args.what == "policy"
        ):  # a policy's --data is prompts' texts
            check_data_spec(given[key])
    if args.command in ("train", "generate"):
        if given.get("policy"):
            check_model(args.policy, "policy LM", names=("smollm2",))
        if given.get("guide"):
            check_model(args.guide, "guide LM", names=("smollm2",))


CLASSIFIER_COMMANDS = ("eval", "match", "premade", "score")  # the commands whose --classifier may be a defense


def classifier_specs(args: argparse.Namespace) -> tuple[list[str], list[tuple[str, str]]]:
    """The classifiers a command names: defender specs (``--classifier``, ``--classifiers``,
    ``--reward``) and plain models with what they are (``--judge``, ``--eval-judge``)."""
    given = vars(args)
    defenders = [
        given[key]
        for key in ("classifier", "reward")
        if given.get(key) and (key != "classifier" or args.command in CLASSIFIER_COMMANDS)
    ]
    models = [
        (given[key], what) for key, what in (("judge", "judge"), ("eval_judge", "evaluation judge")) if given.get(key)
    ]
    return defenders + (_split(given.get("classifiers")) or []), models


def recorded_command(args: argparse.Namespace, argv: list[str]) -> dict:
    """What runs started by this command record for `arena resume`: ``{"argv", "cwd"}``, with
    ``"replayable": false`` when a Python-callable classifier of it runs code from outside the
    store's folder (the store seals the others, :mod:`arena.command_seal`)."""
    from arena.zoo import callable_origin, defended_model

    given = vars(args)
    defenders, models = classifier_specs(args)
    specs = [defended_model(spec, given.get("base") or "default") for spec in defenders] + [spec for spec, _ in models]
    folder = Path(given.get("db") or "arena.db").resolve().parent
    origins = [origin for origin in map(callable_origin, specs) if origin is not None]
    command = {"argv": argv, "cwd": os.getcwd()}
    if any(folder not in origin.parents for origin in origins):
        command["replayable"] = False
    return command


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The errors a command reports in one line: bad input, a missing resource, a failing model or
    endpoint. Looked up among the modules loaded, so a command that never loads torch never imports
    it for its error handling (an error class whose module is not loaded cannot have been raised)."""
    from arena.resources import ResourceMissing

    found: list[type[BaseException]] = [ResourceMissing, OSError, ValueError]
    if "sqlite3" in sys.modules:  # a corrupt store, a full disk
        found.append(sys.modules["sqlite3"].Error)
    for module, name in (
        ("arena.classifier", "ClassifierError"),
        ("arena.scorer", "QueryBudgetExceeded"),
        ("arena.executor", "WorkerFailed"),
    ):
        if module in sys.modules:
            found.append(getattr(sys.modules[module], name))
    return tuple(found)


def _error(args: argparse.Namespace, exc: BaseException) -> int:
    """An expected error as one line (also where a library's message runs over several), status 2."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        from arena.store import store_problem

        exc = store_problem(exc)
    print(f"arena {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``arena`` console script; expected errors print one line and exit 2."""
    from arena.store import recording, recording_now

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        check_specs(args)  # before any model loads
        with recording(None if recording_now() else recorded_command(args, argv)):  # `arena resume`: its own
            return args.func(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        if not isinstance(exc, _expected_errors()):
            raise
        return _error(args, exc)


if __name__ == "__main__":
    sys.exit(main())
