# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · What-if explorer 情景推演
#
# What you will learn: what happens to time to close, repeat petitions and local settlement if
# leaders own more repeat cases, the joint conference meets more often, a one-stop centre opens,
# or follow-up visits become routine; and, above all, **what each lever assumes**.
#
# Every lever's mechanism and effect size is in the `ASSUMPTIONS` table; most are assumptions,
# not estimates. Read it before quoting a number.

# %% tags=["parameters"]
SEED = 42
REPLICATIONS = 20

# %%
import casekit as ck
from casekit import plotting

plotting.use_cjk_font()

# %% [markdown]
# **The assumptions 假设**: mechanism, effect size, source or "assumed".

# %%
ck.simulate.ASSUMPTIONS

# %% [markdown]
# **One scenario without widgets 不用控件的一次推演**: leaders own 90% of repeat cases.

# %%
baseline = ck.simulate_year(replications=REPLICATIONS, seed=SEED)
scenario = ck.simulate_year(leader_ownership_share=0.9, replications=REPLICATIONS, seed=SEED)
baseline.head()

# %%
scenario.head()

# %% [markdown]
# **The panel 交互面板**: move a slider; the figure updates in place when you release it.

# %%
from casekit.widgets import WhatIfPanel

panel = WhatIfPanel(seed=SEED)
panel
