"""The data stage's figures: pair lengths against ``max_length``, and label balance."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from dlfa.config import tasks
from dlfa.data import tokenization


def lengths(tokenized: dict, max_length: int):
    """Token lengths per corpus, language and split; dashed: ``max_length``."""
    table = pd.concat([pd.DataFrame({"corpus": tasks.by_name(task_name).title, "language": lang, "split": split,
                                     "tokens": tokenization.token_lengths(ds)})
                       for (task_name, lang, split), ds in tokenized.items()])
    panels = list(table["corpus"].unique())
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), sharex=True, squeeze=False)
    for ax, corpus in zip(axes[0], panels):
        part = table[table["corpus"] == corpus]
        sns.boxplot(data=part, y="language", x="tokens", hue="split", ax=ax, fliersize=1, orient="h",
                    hue_order=[s for s in ("train", "validation", "test") if s in set(part["split"])])
        ax.axvline(max_length, color="0.3", ls="--", lw=1)
        ax.set_title(f"{corpus}: pair length in tokens")
        ax.set_xlabel(f"tokens ([CLS] a [SEP] b [SEP]); max_length {max_length}")
    fig.tight_layout()
    return fig


def labels(stats: pd.DataFrame):
    """Each corpus's label shares per language and split (``data/stats.csv``)."""
    names = list(stats["corpus"].unique())
    bars = [int((stats["corpus"] == name).sum()) for name in names]
    fig, axes = plt.subplots(len(bars), 1, figsize=(8, 0.3 * sum(bars) + 1.0 * len(bars)), height_ratios=bars,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        task = tasks.by_name(name)
        part = stats[stats["corpus"] == name].set_index(["language", "split"])
        shares = part[[f"label_{i}_share" for i in range(task.num_labels)]]
        shares.columns = [f"{i} {label}" for i, label in enumerate(task.label_names)]
        shares.index = [f"{lang} {split}" for lang, split in shares.index]
        shares.plot.barh(stacked=True, ax=ax, width=0.75, color=sns.color_palette("colorblind", task.num_labels))
        for y, share in enumerate(shares.iloc[:, 0]):
            ax.text(share / 2, y, f"{share:.2f}", ha="center", va="center", fontsize=8, color="white")
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(f"{task.title}: label balance")
        ax.legend(title="label", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    axes[-1, 0].set_xlabel("share of rows")
    fig.tight_layout()
    return fig
