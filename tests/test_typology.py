"""URIEL distances, language selection and syntax profiles: hand-checkable values and every error."""

import math
import warnings

import numpy as np
import pytest

from dlfa.typology import distances as ty
from dlfa.typology.language_choice import select_languages

TARGETS = ["en", "de", "es", "fr", "ja", "ko", "zh"]
XNLI = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]


@pytest.mark.parametrize("kind", ty.KINDS)
@pytest.mark.parametrize("metric", ty.METRICS)
def test_range_symmetry_and_zero_diagonal(kind, metric):
    m = ty.distance_matrix(kind, ["en", "de", "ja", "zh", "sw", "hi", "ur"], metric).to_numpy()
    assert ((m >= 0) & (m <= 1)).all()
    assert (m == m.T).all()
    assert (np.diag(m) == 0).all()


@pytest.mark.parametrize("kind", ty.KINDS)
def test_iso_639_1_and_639_3_agree(kind):
    assert ty.distance(kind, "de", "ja") == ty.distance(kind, "deu", "jpn") == ty.distance(kind, "DEU", "ja")
    assert ty.distance(kind, "zh", "cmn") == 0.0


def test_code_choices():
    assert [ty.iso3(c) for c in ("de", "deu", "ar", "sw", "el", "zh", "zho")] == \
        ["deu", "deu", "ara", "swa", "ell", "cmn", "zho"]


def test_genetic_by_hand():
    # fam is one-hot over lineage nodes: en has 9, de 6, sharing Indo-European > Germanic >
    # Northwest Germanic > West Germanic; fr has 12 and shares only Indo-European with en.
    assert ty.distance("genetic", "en", "de") == pytest.approx(1 - 4 / math.sqrt(9 * 6))
    assert ty.distance("genetic", "en", "fr") == pytest.approx(1 - 1 / math.sqrt(9 * 12))
    assert ty.distance("genetic", "en", "ja") == 1.0  # no shared node
    assert ty.distance("genetic", "hi", "ur") == 0.0  # identical lineage, different languages


def test_angular_is_urielplus_definition_of_the_angle():
    cos_dist = ty.distance("syntactic", "en", "ja")
    assert 0 < cos_dist < 1
    # URIEL+'s _angular_distance: 2 arccos(cos) / pi (not arccos(cos) / pi), in [0, 1] for URIEL's
    # non-negative vectors
    assert ty.distance("syntactic", "en", "ja", "angular") == pytest.approx(2 * np.arccos(1 - cos_dist) / np.pi)
    # tur-jpn syntactic, URIEL+ 1.3.2 as it loads: cosine 0.2501, angular 0.4602 = 2 acos(0.7499) / pi
    assert ty.distance("syntactic", "tr", "ja", "cosine", source="urielplus") == pytest.approx(0.2501, abs=5e-5)
    assert ty.distance("syntactic", "tr", "ja", "angular", source="urielplus") == pytest.approx(0.4602, abs=5e-5)
    assert 2 * np.arccos(1 - 0.2501) / np.pi == pytest.approx(0.4602, abs=5e-5)


@pytest.fixture(scope="module")
def urielplus_itself():
    """URIEL+ as its package loads it, and a call that keeps its per-query INFO logging quiet."""
    import logging
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    urielplus = pytest.importorskip("urielplus.urielplus")  # configures the root logger on import
    root.setLevel(level)
    root.handlers[:] = handlers

    def call(function, *args):
        root.setLevel(logging.WARNING)
        try:
            return function(*args)
        finally:
            root.setLevel(level)
    return call(urielplus.URIELPlus), call


@pytest.mark.parametrize("kind", ty.URIELPLUS_KINDS)
def test_urielplus_distances_and_confidence_are_urielplus_own(kind, urielplus_itself):
    """The vectorised URIEL+ distances and confidence scores against the library's own functions."""
    u, call = urielplus_itself
    for a, b in [("tr", "ja"), ("ur", "de"), ("zh", "ar"), ("sw", "en"), ("hi", "ko")]:
        for metric in ty.METRICS:
            u.set_distance_metric(metric)
            try:
                expected = call(u.new_distance, kind, [ty.iso3(a), ty.iso3(b)])
            except ValueError as err:  # no shared feature: URIEL+ refuses, and so does dlfa
                assert "No shared" in str(err)
                with pytest.raises(ValueError, match=f"URIEL\\+ has no {kind} feature with a value for both"):
                    ty.distance(kind, a, b, metric, source="urielplus")
                continue
            assert ty.distance(kind, a, b, metric, source="urielplus") == pytest.approx(expected, abs=5e-5)  # it rounds
        agreement, coverage = call(u.confidence_score, ty.iso3(a), ty.iso3(b), kind)
        assert ty.confidence(kind, a, b) == (pytest.approx(agreement, abs=1e-12), pytest.approx(coverage, abs=1e-12))


def test_urielplus_tables_carry_confidence_and_leave_unmeasurable_pairs_empty():
    t = ty.distance_table(["ur", "ja"], ["de", "ur"], kinds=("syntactic", "morphological"), source="urielplus")
    assert list(t.columns) == ["kind", "metric", "lang_a", "lang_b", "distance", "source_agreement", "coverage"]
    assert t[t.kind == "morphological"].query("lang_a != lang_b").distance.isna().all()  # no data without Grambank
    row = t[(t.kind == "syntactic") & (t.lang_a == "ur") & (t.lang_b == "de")].iloc[0]
    assert (row.source_agreement, row.coverage) == ty.confidence("syntactic", "ur", "de")
    m = ty.distance_matrix("syntactic", ["ur", "ja", "de"], source="urielplus")
    assert (m.to_numpy() == m.to_numpy().T).all() and (np.diag(m) == 0).all()
    assert m.loc["ja", "de"] == ty.distance("syntactic", "ja", "de", source="urielplus")


def test_a_urielplus_choice_on_sparse_data_says_so():
    s = select_languages(["de"], ["bg", "ur"], source="urielplus").set_index("candidate")  # both chosen
    assert "coverage" in s and s.loc["ur", "coverage"] < ty.LOW_COVERAGE < s.loc["bg", "coverage"]
    chosen = s[s.selected]
    assert chosen.loc["ur"].reason.endswith(f"(low URIEL+ confidence: coverage {s.loc['ur', 'coverage']:.2f})")
    assert "confidence" not in " ".join(chosen.drop("ur").reason)
    assert "coverage" not in select_languages(["de"], ["bg", "ur"])  # lang2vec has no such score
    with pytest.raises(ValueError, match="URIEL\\+ has no morphological distance for bg-de, ur-de .*choose another"):
        select_languages(["de"], ["bg", "ur"], kind="morphological", source="urielplus")
    with pytest.raises(ValueError, match=r"unknown kind 'script'"):
        ty.distance("script", "en", "de")  # a URIEL+ kind


def test_the_two_sources_rank_pairs_alike_where_their_data_are_the_same():
    table = ty.source_agreement().set_index("kind")
    assert list(table.index) == list(ty.KINDS) and (table.pairs[["syntactic", "genetic"]] == 100).all()  # 15 x 7 - 5
    assert table.spearman[["genetic", "geographic"]].min() > 0.999  # the same URIEL data in both
    assert table.spearman["syntactic"] > 0.9  # k-NN predictions against observed values: close, not equal


@pytest.mark.parametrize("kind, near, far", [
    ("genetic", ("en", "de"), ("en", "ja")),  # Germanic vs unrelated
    ("genetic", ("ru", "bg"), ("ru", "de")),  # Slavic vs Indo-European only
    ("genetic", ("ru", "de"), ("ru", "ja")),
    ("genetic", ("es", "fr"), ("es", "de")),  # Romance
    ("syntactic", ("ja", "ko"), ("ja", "en")),  # SOV, postpositions, head-final
    ("syntactic", ("es", "fr"), ("es", "ja")),
    ("syntactic", ("hi", "ur"), ("hi", "en")),  # one grammar, two scripts
    ("syntactic", ("th", "vi"), ("th", "de")),  # mainland South-East Asian isolating
    ("geographic", ("de", "fr"), ("de", "ja")),
    ("geographic", ("ja", "ko"), ("ja", "fr")),
    ("geographic", ("hi", "ur"), ("hi", "en")),
    ("featural", ("de", "en"), ("de", "ja")),
    ("phonological", ("es", "ru"), ("es", "ko")),
    ("inventory", ("de", "fr"), ("de", "vi")),
])
def test_orderings_a_typologist_would_accept(kind, near, far):
    assert ty.distance(kind, *near) < ty.distance(kind, *far)


def test_matrix_labels_as_given():
    m = ty.distance_matrix("featural", ["en", "deu", "ja"], columns=["fr", "zh"])
    assert m.shape == (3, 2)
    assert list(m.index) == ["en", "deu", "ja"] and list(m.columns) == ["fr", "zh"]
    assert m.loc["deu", "fr"] == ty.distance("featural", "de", "fra")


def test_distance_table_every_pair():
    t = ty.distance_table(["en", "ja"], ["en", "de", "zh"], kinds=("syntactic", "genetic"), metric="angular")
    assert list(t.columns) == ["kind", "metric", "lang_a", "lang_b", "distance"]
    assert len(t) == 2 * 2 * 3 and (t.metric == "angular").all()
    same = t[t.lang_a == t.lang_b]
    assert len(same) == 2 and (same.distance == 0).all()
    assert len(ty.distance_table(TARGETS, XNLI)) == len(ty.KINDS) * 7 * 15


def test_select_extremes():
    s = select_languages(TARGETS, XNLI)
    assert list(s.columns) == ["candidate", "target", *[f"distance_{k}" for k in ty.KINDS],
                               "rank", "ties", "selected", "reason"]
    assert len(s) == 7 * 15
    for t, g in s.groupby("target"):
        own = g[g.candidate == t]
        assert own["rank"].isna().all() and not own.selected.any() and (own.reason == "").all()
        others = g[g.candidate != t]
        near = others.loc[others.distance_syntactic.idxmin(), "candidate"]
        far = others.loc[others.distance_syntactic.idxmax(), "candidate"]
        chosen = g[g.selected]
        assert set(chosen.candidate) == {near, far}
        assert chosen.set_index("candidate").reason[near] == f"nearest to {t} under syntactic"
        assert chosen.set_index("candidate").reason[far] == f"farthest to {t} under syntactic"
        assert sorted(others["rank"]) == list(range(1, len(others) + 1))
    assert (s.reason[~s.selected] == "").all()


def test_select_quantiles_and_all():
    q = select_languages(["ja", "de"], XNLI, kind="genetic", strategy="quantiles")
    assert q.groupby("target").selected.sum().to_dict() == {"ja": 3, "de": 3}
    assert q[q.selected].reason.str.contains("median to").sum() == 2
    a = select_languages(["ja"], XNLI, strategy="all")
    assert a.selected.all() and a.reason.str.contains("to ja under syntactic").all()


def test_ties_are_counted_and_named_where_candidate_order_decides():
    s = select_languages(["de", "ja"], XNLI, kind="genetic").set_index(["target", "candidate"])
    assert s.loc[("de", "en"), "reason"] == "nearest to de under genetic" and s.loc[("de", "en"), "ties"] == 0
    # every XNLI language is unrelated to Japanese: all 15 at genetic distance 1.0
    assert (s.loc["ja", "ties"] == 14).all()
    chosen = s.loc["ja"][s.loc["ja"].selected]
    assert list(chosen.index) == ["ar", "zh"]  # the first and last candidate: order decided
    assert chosen.reason.str.endswith("(tied with 14 other candidate(s) at 1.00; candidate order decided)").all()
    assert s.loc[("de", "de"), "ties"] != s.loc[("de", "de"), "ties"]  # NaN: never a candidate for itself


def test_select_budget():
    full = select_languages(TARGETS, XNLI)
    counts = full[full.selected].groupby("candidate").target.nunique()
    s = select_languages(TARGETS, XNLI, budget=2)
    kept = set(s[s.selected].candidate)
    assert len(kept) == 2
    assert min(counts[list(kept)]) >= max(counts.drop(list(kept)))  # most-chosen languages kept
    summary = s[s.selected].groupby("candidate").reason.agg("; ".join)
    assert all(f"to {t} under" in summary[c] for c, t in s[s.selected][["candidate", "target"]].values)


def test_errors():
    with pytest.raises(ValueError, match=r"'engl'.*eng"):
        ty.iso3("engl")
    with pytest.raises(ValueError, match=r"'deo'.*deu"):
        ty.distance("syntactic", "deo", "en")
    with pytest.raises(ValueError, match=r"'syntax'.*syntactic, phonological"):
        ty.distance("syntax", "en", "de")
    with pytest.raises(ValueError, match=r"'euclid'.*cosine, angular"):
        ty.distance_matrix("genetic", ["en"], metric="euclid")
    with pytest.raises(ValueError, match=r"'bogus'.*syntactic"):
        ty.distance_table(["en"], ["de"], kinds=("genetic", "bogus"))
    with pytest.raises(ValueError, match=r"'best'.*extremes, quantiles, all"):
        select_languages(["ja"], ["en", "de"], strategy="best")
    with pytest.raises(ValueError, match="budget"):
        select_languages(["ja"], ["en", "de"], budget=0)
    with pytest.raises(ValueError, match=r"more than once: en, eng"):
        select_languages(["ja"], ["en", "eng"])
    with pytest.raises(ValueError, match=r"genetic data for 'eu' \(eus\)"):  # Basque: isolate, no fam nodes
        ty.distance("genetic", "eu", "en")


def test_syntax_profiles():
    assert ty.syntax_profile("en") == {"order": "SVO", "adj_before_noun": True, "adposition_before_noun": True}
    assert ty.syntax_profile("ja") == {"order": "SOV", "adj_before_noun": True, "adposition_before_noun": False}
    assert ty.syntax_profile("ko")["order"] == "SOV"
    assert ty.syntax_profile("zh")["order"] == "SVO"
    # knn has both adjective orders for fr/es; the source average breaks the tie
    assert not ty.syntax_profile("fr")["adj_before_noun"] and not ty.syntax_profile("es")["adj_before_noun"]


def _lang2vec_features(langs, feature_set):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation
        import lang2vec.lang2vec as l2v
    return l2v.get_features(langs, feature_set, header=True)


@pytest.mark.parametrize("feature_set", ["syntax_knn", "phonology_knn", "inventory_knn", "geo", "syntax_average",
                                         pytest.param("fam", marks=pytest.mark.slow)])
def test_vectors_match_lang2vec(feature_set):
    langs = ["eng", "cmn", "jpn"]
    out = _lang2vec_features(langs, feature_set)
    names, vectors = ty.feature_vectors(feature_set)
    assert list(out["CODE"]) == [n.replace(" ", "_") for n in names]
    for c in langs:
        expected = np.array([-1 if v == "--" else v for v in out[c]], dtype=float)
        np.testing.assert_allclose(vectors[c], expected, rtol=1e-6)
