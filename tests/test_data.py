from __future__ import annotations

import json

import pytest

from arena.data import DataError, Example, LabelledData, align_labels, load_data, parse_hf_spec, select


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_builtin_set_is_balanced_and_large_enough():
    data = load_data("builtin")
    assert len(data) >= 100
    counts = [sum(ex.label == k for ex in data) for k in (0, 1)]
    assert counts[0] == counts[1]
    assert data.label_names == ["negative", "positive"]


def test_textfooler_single_text(tmp_path):
    data = load_data(write(tmp_path / "mr", '1 a fine film\n0 "a dull film"\n\n1 great\n'))
    assert [ex.label for ex in data] == [1, 0, 1]
    assert data.examples[1].text == "a dull film"
    assert data.examples[0].id == "mr:1" and data.examples[2].id == "mr:4"


def test_textfooler_nli_word_labels_use_textfooler_order(tmp_path):
    data = load_data(
        write(tmp_path / "snli", "entailment\tA man sleeps .\tA person rests .\ncontradiction\tA dog .\tA cat .\n")
    )
    assert data.label_names == ["contradiction", "entailment", "neutral"]
    assert [ex.label for ex in data] == [1, 0]
    assert data.examples[0].input == ("A man sleeps .", "A person rests .")


def test_textfooler_nli_numeric(tmp_path):
    data = load_data(write(tmp_path / "mnli", "2\tp one\th one\n0\tp two\th two\n"))
    assert [ex.label for ex in data] == [2, 0] and data.examples[1].text_pair == "h two"


@pytest.mark.parametrize(
    "content, message",
    [
        ("1 ok\nx bad label here\n", "f:2: labels mix|f: labels mix"),
        ("1 ok\n1\n", "f:2: empty text"),
        ("1 ok\n-1 negative label\n", "f:2: label '-1'"),
        ("1.5 fractional\n", "f:1: label '1.5'"),
    ],
)
def test_textfooler_bad_rows_name_file_and_line(tmp_path, content, message):
    with pytest.raises(DataError) as err:
        load_data(write(tmp_path / "f", content))
    assert any(m in str(err.value) for m in message.split("|")), str(err.value)


def test_tsv_with_header_sst2_style(tmp_path):
    data = load_data(write(tmp_path / "train.tsv", "sentence\tlabel\nit 's good . \t1\nbad \t0\n"))
    assert [(ex.text, ex.label) for ex in data] == [("it 's good .", 1), ("bad", 0)]


def test_tsv_without_header_positional_columns_and_class_names(tmp_path):
    path = write(tmp_path / "ag.tsv", "stocks fell\tBusiness\nteam won\tSports\n")
    data = load_data(path)
    assert data.label_names == ["business", "sports"] and [ex.label for ex in data] == [0, 1]
    named = load_data(path, labels=["World", "Sports", "Business", "Sci/Tech"])
    assert [ex.label for ex in named] == [2, 1]


def test_csv_column_options_and_missing_column(tmp_path):
    path = write(tmp_path / "d.csv", 'review,stars\n"good, really",1\nawful,0\n')
    data = load_data(path, text_col="review", label_col="stars")
    assert data.examples[0].text == "good, really"
    with pytest.raises(DataError, match="missing label column 'score'"):
        load_data(path, text_col="review", label_col="score")
    with pytest.raises(DataError, match="no label column found"):
        load_data(path, text_col="review")


def test_csv_wrong_field_count_names_line(tmp_path):
    with pytest.raises(DataError, match=r"d.csv:3: expected 2 fields, found 3"):
        load_data(write(tmp_path / "d.csv", "text,label\nok,1\nbad,0,extra\n"))


def test_unknown_label_with_names(tmp_path):
    with pytest.raises(DataError, match=r"d.tsv:3: unknown label 'meh'"):
        load_data(write(tmp_path / "d.tsv", "text\tlabel\ngood\tpos\nso so\tmeh\n"), labels=["neg", "pos"])


def test_jsonl_pairs_and_bad_json(tmp_path):
    rows = [{"premise": "a", "hypothesis": "b", "label": 1}, {"premise": "c", "hypothesis": "d", "label": 0}]
    data = load_data(write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows)))
    assert data.examples[0].input == ("a", "b")
    with pytest.raises(DataError, match=r"e.jsonl:2: invalid JSON"):
        load_data(write(tmp_path / "e.jsonl", '{"text": "a", "label": 1}\n{oops\n'))


def test_aclimdb_folder(tmp_path):
    for split, label, name in (("test", "pos", "1_9.txt"), ("test", "neg", "2_1.txt"), ("test", "neg", "3_2.txt")):
        folder = tmp_path / "aclImdb" / split / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("a review<br />with a break", encoding="utf-8")
    data = load_data(str(tmp_path / "aclImdb"))
    assert sorted(ex.label for ex in data) == [0, 0, 1]
    assert "<br />" not in data.examples[0].text


def test_missing_path_and_empty_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_data(str(tmp_path / "nope.tsv"))
    with pytest.raises(DataError, match="empty"):
        load_data(write(tmp_path / "empty.csv", ""))


def test_n_and_seed_are_deterministic():
    a = load_data("builtin", n=10, seed=3)
    b = load_data("builtin", n=10, seed=3)
    assert [ex.id for ex in a] == [ex.id for ex in b] and len(a) == 10
    assert a.fingerprint == b.fingerprint != load_data("builtin", n=10, seed=4).fingerprint
    with pytest.raises(DataError, match="positive"):
        load_data("builtin", n=0)


def test_n_draws_a_balanced_sample_in_a_fixed_order():
    data = load_data("builtin", n=10)
    assert [ex.label for ex in data] == [0, 1] * 5  # the classes take turns, label 0 first
    assert [ex.id for ex in load_data("builtin", n=10)] == [ex.id for ex in data]
    seeded = load_data("builtin", n=10, seed=1)
    assert sorted(ex.label for ex in seeded) == [0] * 5 + [1] * 5 and {ex.id for ex in seeded} != {ex.id for ex in data}
    uneven = [Example(str(i), int(i >= 8), None, f"t{i}") for i in range(10)]  # 8 of class 0, 2 of class 1
    assert [ex.label for ex in select(uneven, 6)] == [0, 1, 0, 1, 0, 0]  # a class that runs out leaves its turn
    assert [ex.text for ex in select(uneven, 3, sample="first")] == ["0", "1", "2"]
    with pytest.raises(DataError, match="unknown sample"):
        select(uneven, 3, sample="random")


def test_hf_spec_parsing():
    assert parse_hf_spec("hf:imdb:test") == ("imdb", None, "test")
    assert parse_hf_spec("hf:glue:sst2") == ("glue", "sst2", "test")
    assert parse_hf_spec("hf:glue:sst2:validation") == ("glue", "sst2", "validation")
    with pytest.raises(DataError):
        parse_hf_spec("hf:")


def test_align_labels_by_name_and_mismatch():
    data = LabelledData([Example("x", 0, None, "a"), Example("y", 1, None, "b")], ["pos", "neg"], "mem")
    aligned = align_labels(data, ["negative", "positive"])
    assert [ex.label for ex in aligned] == [1, 0]
    nli = LabelledData([Example("x", 0, "y", "a")], ["entailment", "contradiction", "neutral"], "mem")
    with pytest.raises(DataError, match="not among the classifier's labels"):
        align_labels(nli, ["negative", "positive"])


def test_align_labels_never_pairs_unrelated_names_by_position():
    words = LabelledData(
        [Example("x", 0, None, "a"), Example("y", 3, None, "b")], ["business", "sci/tech", "sports", "world"], "ag"
    )
    with pytest.raises(DataError, match=r"outputs are not named \(4 classes\); pass --labels"):
        align_labels(words, ["0", "1", "2", "3"])  # a callable without names
    with pytest.raises(DataError, match="not among the classifier's labels"):
        align_labels(words, ["a", "b", "c", "d"])  # same count, other names
    declared = LabelledData(
        words.examples, ["world", "sports", "business", "sci/tech"], "ag", declared=True
    )  # --labels
    assert [ex.label for ex in align_labels(declared, ["0", "1", "2", "3"])] == [0, 3]
    ids = LabelledData([Example("x", 1, None, "a")], ["0", "1"], "sst2")
    assert align_labels(ids, ["negative", "positive"]).label_names == ["negative", "positive"]  # ids index the classes
    with pytest.raises(DataError, match="label ids up to 1 for a classifier with 1 classes"):
        align_labels(ids, ["only"])


@pytest.mark.parametrize(
    "label, problem",
    [
        ("99999999999", "above 10,000"),
        ("inf", "not a non-negative integer"),
        ("nan", "not a non-negative integer"),
        ("-1", "not a non-negative integer"),
    ],
)
def test_numeric_labels_out_of_bounds_name_file_and_line(tmp_path, label, problem):
    path = tmp_path / "f.txt"
    path.write_text(f"0 fine\n{label} great\n")
    with pytest.raises(DataError, match=f"f.txt:2: .*{problem}"):
        load_data(str(path))


def test_duplicate_ids_rejected():
    with pytest.raises(DataError, match="not unique"):
        LabelledData([Example("x", 0, None, "a"), Example("y", 1, None, "a")], ["0", "1"], "mem")
