"""The learned scorer: shipped weights, loading other weights, and the training script."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from listener.domain import Mention
from listener.errors import SettingsError
from listener.scoring import DeferredScorer, make_scorer
from listener.scoring.model import SHIPPED_WEIGHTS, ModelScorer
from listener.scoring.train import main as train_main
from listener.settings import ScoringSettings
from tests.support.shared_data import shared_path


def mention(text: str) -> Mention:
    return Mention(source="test", external_id="1", text=text)


def test_the_shipped_weights_are_small_and_versioned() -> None:
    files = sorted(p.name for p in SHIPPED_WEIGHTS.iterdir())
    assert files == ["weights.json", "weights.npz"]
    assert sum(p.stat().st_size for p in SHIPPED_WEIGHTS.iterdir()) < 5_000_000
    document = json.loads((SHIPPED_WEIGHTS / "weights.json").read_text(encoding="utf-8"))
    assert document["version"]
    assert any("ACL 2019" in d for d in document["datasets"])


def test_the_default_scorer_runs_on_shipped_weights_alone(tmp_path: Path) -> None:
    # A fresh interpreter, away from the repo, with ../shared pointed at nothing.
    probe = (
        "from listener.scoring import make_scorer; from listener.domain import Mention; "
        "s = make_scorer(); "
        "r = s.score_batch([Mention(source='t', external_id='1', text='worst service ever')]); "
        "print(s.version, r[0].dissatisfied)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "LISTENER_SHARED_DIR": str(tmp_path / "nowhere")},
    ).stdout.split()
    assert out[1] == "True"


def test_the_learned_signal_is_among_the_signals() -> None:
    scorer = make_scorer()
    assert isinstance(scorer, ModelScorer)
    (score,) = scorer.score_batch([mention("@Acme worst service ever, still no refund")])
    names = {s.name for s in score.signals}
    assert "dissatisfaction model" in names
    assert score.scorer == scorer.version


def test_a_missing_weights_directory_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="nowhere"):
        make_scorer(ScoringSettings(model=str(tmp_path / "nowhere")))


def test_a_deferred_scorer_scores_as_the_scorer_it_builds_once() -> None:
    deferred = DeferredScorer(ScoringSettings())
    texts = [mention("@Acme worst service ever, still no refund"), mention("@Acme thanks!")]
    assert deferred.score_batch(texts) == make_scorer().score_batch(texts)
    built = deferred.built()
    assert isinstance(built, ModelScorer) and deferred.built() is built
    assert deferred.version == built.version


def test_a_deferred_scorer_says_what_is_wrong_when_it_first_scores(tmp_path: Path) -> None:
    deferred = DeferredScorer(ScoringSettings(model=str(tmp_path / "nowhere")))  # no error yet
    with pytest.raises(SettingsError, match="nowhere"):
        deferred.score_batch([mention("@Acme hello")])


def test_corrupt_weights_are_a_settings_error(tmp_path: Path) -> None:
    (tmp_path / "weights.json").write_text('{"format": 1}', encoding="utf-8")
    np.savez(tmp_path / "weights.npz", idf=np.ones(3), coef=np.ones(3), intercept=np.ones(1))
    with pytest.raises(SettingsError, match="cannot be read"):
        make_scorer(ScoringSettings(model=str(tmp_path)))


COMPLAINTS = [
    "@Acme still waiting for my refund, worst service",
    "@Acme my order never arrived and nobody answers",
    "@Acme charged me twice, sort it out",
    "@Acme the app keeps crashing, useless",
    "@Acme on hold for an hour again, ridiculous",
]
CONTENT = [
    "@Acme thanks, the parcel came early",
    "@Acme do you ship to Canada?",
    "@Acme love the new colours",
    "@Acme what time do you open on Sunday?",
    "lovely walk in the park today",
]


def write_dataset(root: Path) -> Path:
    """A tiny directory laid out like ../shared/data, enough for every training step."""
    complaints = root / "complaints"
    complaints.mkdir(parents=True)
    with (complaints / "complaints-data.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        for i in range(60):
            text, label = (COMPLAINTS[i % 5], 1) if i % 2 else (CONTENT[i % 5], 0)
            writer.writerow([str(10**17 + i), f"{text} #{i}", label, "retail"])
    for task, labels in (("sentiment", (0, 1, 2)), ("emotion", (0, 1)), ("offensive", (0, 1))):
        folder = root / "tweeteval" / task
        folder.mkdir(parents=True)
        parts = ("val", "test") if task == "sentiment" else ("train", "val", "test")
        for part in parts:
            texts, values = [], []
            for i in range(40):
                label = labels[i % len(labels)]
                text = COMPLAINTS[i % 5] if label == 0 else CONTENT[i % 5]
                texts.append(f"{text} {task} {part} {i}")
                values.append(str(label))
            (folder / f"{part}_text.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
            (folder / f"{part}_labels.txt").write_text("\n".join(values) + "\n", encoding="utf-8")
    return root


def test_training_writes_weights_that_the_service_can_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_dataset(tmp_path / "data")
    labels = tmp_path / "feedback.jsonl"
    labels.write_text(
        "\n".join(
            json.dumps({"text": t, "dissatisfied": d})
            for t, d in [("@Acme still broken after the fix", True), ("@Acme all good now", False)]
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "weights"
    code = train_main(
        ["--data", str(data), "--labels", str(labels), "--out", str(out), "--version", "t-1"]
    )
    assert code == 0
    assert "complaints test" in capsys.readouterr().out
    scorer = make_scorer(ScoringSettings(model=str(out)))
    assert scorer.version == "t-1"
    complaint, content = scorer.score_batch(
        [mention("@Acme charged me twice, sort it out"), mention("@Acme love the new colours")]
    )
    assert complaint.dissatisfaction > content.dissatisfaction
    meta = json.loads((out / "weights.json").read_text(encoding="utf-8"))
    assert meta["trained_on"]["feedback"] == 2


def test_training_names_a_missing_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_main(["--data", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err


def test_training_names_the_malformed_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_dataset(tmp_path / "data")
    with (data / "complaints" / "complaints-data.csv").open("a", encoding="utf-8") as f:
        f.write("1,only three,fields\n")
    assert train_main(["--data", str(data), "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert "complaints-data.csv:61" in err


def test_training_rejects_a_malformed_labels_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_dataset(tmp_path / "data")
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"text": "hi", "dissatisfied": "yes"}\n', encoding="utf-8")
    assert train_main(["--data", str(data), "--labels", str(labels)]) == 2
    assert "labels.jsonl:1" in capsys.readouterr().err


@pytest.mark.shared
def test_on_held_out_complaints_the_default_scorer_beats_vader() -> None:
    from listener.scoring.reading import vader
    from listener.scoring.training_data import Split, load_complaints, only

    data = shared_path("data")
    rows = only(load_complaints(data), Split.TEST)
    truth = np.array([e.dissatisfied for e in rows])
    analyzer = vader()
    vader_says = np.array([analyzer.polarity_scores(e.text)["compound"] <= -0.05 for e in rows])
    scores = make_scorer().score_batch([mention(e.text) for e in rows])
    ours = np.array([s.dissatisfied for s in scores])

    def f1(predicted: np.ndarray) -> float:
        tp = float((predicted & truth).sum())
        return 2 * tp / float(predicted.sum() + truth.sum())

    assert f1(ours) >= f1(vader_says) + 0.15
