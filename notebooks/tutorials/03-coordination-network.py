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
# # 03 · The coordination network 协同网络
#
# What you will learn: who works with whom on cases, who passes cases to whom (hand-overs), which
# agencies broker between others (betweenness), where cases bounce back (referral loops A → B → A),
# and how the network changes over time.

# %% tags=["parameters"]
EVENTS_PATH = None  # None: the bundled sample
SEED = 42

# %%
import matplotlib.pyplot as plt

import casekit as ck
from casekit import plotting

plotting.use_cjk_font()
events = ck.load_sample_events() if EVENTS_PATH is None else ck.read_events(EVENTS_PATH)

# %% [markdown]
# **Working together 共同办案** (agency types): an edge counts the cases both acted on.

# %%
G = ck.build_working_together_network(events, level="agency_type")
ck.network.edges_to_frame(G).sort_values("count", ascending=False).head(10)

# %%
fig, ax = plt.subplots(figsize=(7, 5))
plotting.plot_network(G, ax=ax, seed=SEED)
plt.show()

# %% [markdown]
# **Brokers 中间人**: high betweenness = on many shortest paths between other agencies.

# %%
ck.network_metrics(G, seed=SEED).sort_values("betweenness", ascending=False).head(8)

# %% [markdown]
# **Hand-overs 转办** (directed): who passes the case to whom, with the median lag in days.

# %%
H = ck.build_handover_network(events, level="agency_type")
fig, ax = plt.subplots(figsize=(7, 6))
plotting.plot_handover_matrix(H, ax=ax, normalise="row")
plt.show()

# %% [markdown]
# **Referral loops 来回转办** (A → B → A inside one case): where jurisdiction is unclear.

# %%
loops = ck.find_referral_loops(events, level="agency_type")
fig, ax = plt.subplots(figsize=(7, 4))
plotting.plot_referral_loops(loops, ax=ax)
plt.show()

# %% [markdown]
# **Change over time 随时间变化**: working-together edges per year.

# %%
by_year = ck.build_network_by_period(events, by="year", level="agency_type")
by_year.pivot_table(index=["source", "target"], columns="period", values="count").head(10)
