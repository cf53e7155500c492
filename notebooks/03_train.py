# %% [markdown]
# # 03 · Train one run
#
# **What it does.** One point of the grid: optionally fine-tunes on the intermediate task in one
# language (with a head of its own, sized to that task's labels), carries the encoder (and the DLFA
# module) over, fine-tunes on English PAWS-X with a fresh 2-way head, and evaluates dev and test of
# every language at each evaluation step. Checkpoints are then chosen from dev accuracy only:
# `en-dev` (best English dev, the XTREME protocol) and `oracle` (best dev in each target language,
# reported separately, as Keung et al. 2020 recommend).
#
# **Reads** `data/tokenized/…` and (tiny model) `model/` from 01. **Writes**
# `runs/<run_id>/metrics.json`, `predictions.npz` (the predicted label of every dev and test example at
# each selected checkpoint) and `curve.png`. A run whose metrics exist for the same
# configuration is shown, not retrained. While it trains, the run keeps its last checkpoint under
# `runs/<run_id>/trainer/` (and `intermediate/`): executed again after a crash or a kill, it resumes
# from there and ends with the metrics of an uninterrupted run. The checkpoints are deleted once
# `metrics.json` is written, unless `keep_checkpoints` is true. With `gpus_per_run` > 1 the run is
# trained by `torchrun` in a subprocess, one process per GPU.

# %% tags=["parameters"]
study = "smoke"
outputs_dir = None
fusion_layer = None
intermediate_language = None
seed = 1
model = "tiny"
tiny_model = {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128, "vocab_size": 1000}
data_source = "synthetic"
intermediate_source = None
drop_placeholders = False
targets = ["de", "es", "fr", "ja", "ko", "zh"]
intermediate_task = "xnli"
data_seed = 0
train_size = 12000
eval_size = 400
intermediate_train_size = 3000
max_length = 64
learning_rate = 0.001
train_batch_size = 32
effective_batch_size = 32
eval_batch_size = 256
num_train_epochs = 4.0
warmup_ratio = 0.05
weight_decay = 0.0
adam_beta2 = 0.98
evals_per_epoch = 2
intermediate_epochs = 2.0
intermediate_learning_rate = 0.001
keep_checkpoints = False
gpus_per_run = 1

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from dlfa.io import save_figure
from dlfa.params import Run
from dlfa.paths import study_dir as find_study
from dlfa.pipeline import notebook_params
from dlfa.train import existing_metrics, launch_run, train_run

P = notebook_params("03_train", globals())
run = Run(fusion_layer, P["intermediate_task"] if intermediate_language else None, intermediate_language, seed)
out = find_study(study, outputs_dir)
print("run:", run.run_id)

# %%
metrics = existing_metrics(out, P, run)
if metrics is None and P["gpus_per_run"] > 1:  # several processes: torchrun in a subprocess
    metrics = launch_run(P, run, out, P["gpus_per_run"])
elif metrics is None:  # resumes from the run's last checkpoint if an earlier attempt was stopped
    metrics = train_run(P, run, out)
else:
    print("metrics.json exists for this configuration: not retrained")
print(f"wall time {metrics['wall_time_s']:.1f} s, {metrics['train_examples_per_second']:.1f} training examples/s "
      f"on {metrics['device']} x {metrics.get('processes', 1)}")

# %% [markdown]
# ## Configuration
# Everything that determines the result (a changed value retrains the run), and each stage's
# size, throughput and the checkpoint it resumed from, if any.

# %%
display(pd.Series({k: str(v) for k, v in metrics["config"].items()}, name="value").to_frame())
pd.DataFrame(metrics["stages"]).set_index("stage").T

# %% [markdown]
# ## Selected checkpoints
# Test accuracy at the step chosen by each protocol (dev accuracy alongside).

# %%
table = pd.DataFrame([{"selection": protocol, "language": lang, **chosen}
                      for protocol, per_lang in metrics["selection"].items() for lang, chosen in per_lang.items()])
table.pivot_table(index="language", columns="selection", values=["test", "dev", "step"]).round(3)

# %% [markdown]
# ## Training curve
# Training loss and dev accuracy of every language by step; the dashed line is the `en-dev` choice.

# %%
loss = pd.DataFrame(metrics["curve"]["loss"])
evals = pd.DataFrame(metrics["curve"]["eval"])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
ax1.plot(loss["step"], loss["loss"])
ax1.set(xlabel="step", ylabel="training loss", title=f"{run.run_id}: loss")
sns.lineplot(data=evals[evals.split == "dev"], x="step", y="accuracy", hue="language", marker="o", ax=ax2)
ax2.axvline(metrics["selection"]["en-dev"]["en"]["step"], color="k", ls="--", lw=1)
ax2.set(title="dev accuracy by language", ylim=(0, 1))
ax2.legend(ncol=2, fontsize=8)
fig.tight_layout()
save_figure(fig, out / "runs" / run.run_id / "curve.png")
plt.show()
