"""Checkpoint selection from the dev curves, and collection into results.csv."""

from dlfa.params import Run, validate
from dlfa.results import RESULT_COLUMNS, results_table
from dlfa.train import evaluation_table, existing_metrics, run_config, select_checkpoints


def _history():
    # step 10: en dev best; step 20: de dev best; ja dev tied at 10 and 20 (earliest wins)
    acc = {10: {"en": (0.90, 0.88), "de": (0.60, 0.61), "ja": (0.55, 0.52)},
           20: {"en": (0.85, 0.86), "de": (0.70, 0.65), "ja": (0.55, 0.58)}}
    history = [{"loss": 0.6, "step": 5}]
    for step, per in acc.items():
        entry = {"step": step, "epoch": step / 20}
        for lang, (dev, test) in per.items():
            entry[f"eval_{lang}_dev_accuracy"] = dev
            entry[f"eval_{lang}_test_accuracy"] = test
        history.append(entry)
    return history


def test_evaluation_table_is_tidy():
    table = evaluation_table(_history(), ["en", "de", "ja"])
    assert list(table.columns) == ["step", "language", "split", "accuracy"]
    assert len(table) == 2 * 3 * 2


def test_selection_uses_dev_only_under_both_protocols():
    chosen = select_checkpoints(evaluation_table(_history(), ["en", "de", "ja"]), ["en", "de", "ja"])
    assert chosen["en-dev"]["de"] == {"step": 10, "dev": 0.60, "test": 0.61}  # English dev decides for all
    assert chosen["en-dev"]["ja"]["step"] == 10
    assert chosen["oracle"]["de"] == {"step": 20, "dev": 0.70, "test": 0.65}  # de's own dev decides
    assert chosen["oracle"]["ja"] == {"step": 10, "dev": 0.55, "test": 0.52}  # tie: earliest, not best test
    assert chosen["oracle"]["en"] == chosen["en-dev"]["en"]


def _metrics(run, params):
    chosen = select_checkpoints(evaluation_table(_history(), ["en", "de", "ja"]), ["en", "de", "ja"])
    n = {lang: {"dev": 100, "test": 200} for lang in ["en", "de", "ja"]}
    return {"run_id": run.run_id, "status": "complete", "config": run_config(params, run), "selection": chosen, "n": n}


def test_results_table_has_one_row_per_run_language_split_protocol():
    params = validate({"targets": ["de", "ja"], "fusion_layers": [None, 1]})
    runs = [Run(None, None, None, 1), Run(1, "xnli", "hi", 1)]
    table = results_table([_metrics(r, params) for r in runs])
    assert list(table.columns) == RESULT_COLUMNS
    assert len(table) == 2 * 3 * 2 * 2
    row = table[(table.run_id == "d1__xnli-hi__s1") & (table.language == "de") & (table.split == "test")
                & (table.selection == "oracle")].iloc[0]
    assert (row.variant, row.fusion_layer, row.intermediate_language, row.accuracy, row.n) == ("d1", 1, "hi", 0.65, 200)


def test_existing_metrics_requires_the_same_configuration(tmp_path):
    import json
    params = validate({"targets": ["de", "ja"]})
    run = Run(None, None, None, 1)
    path = tmp_path / "runs" / run.run_id / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_metrics(run, params)))
    assert existing_metrics(tmp_path, params, run) is not None
    assert existing_metrics(tmp_path, {**params, "learning_rate": 1e-4}, run) is None
    path.write_text(json.dumps({**_metrics(run, params), "status": "failed"}))
    assert existing_metrics(tmp_path, params, run) is None
