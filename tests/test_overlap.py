"""arena overlap: exact and n-word-span overlap with a training set, the clean subset in the input's format."""

from __future__ import annotations

import json

from arena.cli import main
from arena.data import load_data
from arena.overlap import file_sha256, overlap, squeeze, training_file

TRAIN = "sentence\tlabel\nIt 's a charming , funny film .\t1\nthe plot never once makes any sense at all for me\t0\n"
EVAL = (
    "1 it's a charming, funny film!\n"  # exact once reduced
    "0 honestly the plot never once makes any sense at all for me , sadly\n"  # an 8-word span
    "0 the plot never once makes sense\n"  # 5 shared words: clean
    "1 a warm and moving story\n"
)  # clean


def _files(tmp_path):
    (tmp_path / "train.tsv").write_text(TRAIN)
    (tmp_path / "eval").write_text(EVAL)
    return str(tmp_path / "train.tsv"), str(tmp_path / "eval")


def test_exact_span_and_clean_counts(tmp_path):
    train, data = _files(tmp_path)
    report = overlap(load_data(train), load_data(data))
    assert (report.n, report.exact, report.span, report.clean) == (4, 1, 1, 2)
    assert squeeze("It 's a charming , funny film .") == squeeze("it's a charming, funny film!")
    assert overlap(load_data(train), load_data(data), ngram=5).span == 2  # shorter spans catch the third sentence too


def test_cli_writes_the_clean_subset_in_the_input_format(tmp_path, capsys):
    train, data = _files(tmp_path)
    assert main(["overlap", "--train", train, "--data", data, "--json", "--out", str(tmp_path / "clean")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["exact"], summary["span"], summary["clean"], summary["format"]) == (1, 1, 2, "textfooler")
    assert (tmp_path / "clean").read_text() == "".join(EVAL.splitlines(keepends=True)[2:])  # the lines as they were
    assert main(["overlap", "--train", data, "--data", train, "--out", str(tmp_path / "clean.tsv")]) == 0
    assert (tmp_path / "clean.tsv").read_text() == "sentence\tlabel\n"  # header kept, both rows seen


def test_eval_warns_when_the_data_is_in_the_classifiers_training_file(tmp_path, capsys, monkeypatch):
    train, data = _files(tmp_path)
    folder = tmp_path / "clf"
    folder.mkdir()
    (folder / "arena_classifier.json").write_text(json.dumps({"data": train, "data_sha256": file_sha256(train)}))
    assert training_file(folder) == tmp_path / "train.tsv"
    (folder / "arena_classifier.json").write_text(json.dumps({"data": train, "data_sha256": "0" * 64}))
    assert training_file(folder) is None  # another file at that path now: no claim about it
    monkeypatch.setattr(
        "arena.zoo.classifier_folder",
        lambda spec, base: tmp_path / "clf" if spec == "test_classifier:keyword_probs" else None,
    )
    (folder / "arena_classifier.json").write_text(json.dumps({"data": train}))
    assert (
        main(["eval", "--classifier", "test_classifier:keyword_probs", "--data", data, "--db", str(tmp_path / "o.db")])
        == 0
    )
    err = capsys.readouterr().err
    assert "warning: 2 of 4 examples" in err and "1 exactly, 1 by 8-word spans" in err
