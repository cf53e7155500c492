# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Train one run
#
# **What it does.** One point of the grid: optionally fine-tunes on the intermediate task in one
# language (with a head of its own, sized to that task's labels), carries the encoder (and the DLFA
# module) over, fine-tunes on the target task in English (PAWS-X, or XNLI with `target_task: xnli`)
# with a fresh head (2-way, 3-way), and evaluates dev and test of
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
params_file = "params/smoke.yaml"  # the study's params (dlfa run passes its copy, outputs/<study>/params.yaml)
outputs_dir = None  # where study folders live (None: outputs/, or $DLFA_OUTPUTS)
run_id = "baseline__none__s1"  # which run of the study's grid

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from dlfa.io import save_figure
from dlfa.config.profiles import load
from dlfa.paths import study_dir
from dlfa.config.runs import existing_metrics, study_run
from dlfa.training.train import launch_run, train_run

params = load(params_file)
out = study_dir(params.study, outputs_dir)
run = study_run(out, params, run_id)  # looked up in the grid, with its fusion options
print("run:", run.run_id, "| DLFA:", run.dlfa if run.fusion_layer is not None else "none (baseline)")

# %%
metrics = existing_metrics(out, params, run)
if metrics is None and params.gpus_per_run > 1:  # several processes: torchrun in a subprocess
    metrics = launch_run(params, run, out, params.gpus_per_run)
elif metrics is None:  # resumes from the run's last checkpoint if an earlier attempt was stopped
    metrics = train_run(params, run, out)
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
for language, curve in evals[evals.split == "dev"].groupby("language", sort=False):  # matplotlib: no seaborn import
    ax2.plot(curve["step"], curve["accuracy"], marker="o", ms=3, label=language)
ax2.axvline(metrics["selection"]["en-dev"]["en"]["step"], color="k", ls="--", lw=1)
ax2.set(title="dev accuracy by language", xlabel="step", ylabel="dev accuracy", ylim=(0, 1))
ax2.legend(ncol=2, fontsize=8)
fig.tight_layout()
save_figure(fig, out / "runs" / run.run_id / "curve.png")
plt.show()
