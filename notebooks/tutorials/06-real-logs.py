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
# # 06 · Real logs 真实数据
#
# What you will learn: running casekit on three public logs, and what carries over to petition
# work (信访) and what does not. No public 信访 log exists; these are its closest real relatives.
#
# | log | what it is | carries over | does not |
# |---|---|---|---|
# | receipt (4TU) | a Dutch municipality's permit-application receipt phase, 1,434 cases | hand-overs between units, referral loops, open cases censored | no petitioners or repeat filings; `org:group` is a work group, not an agency |
# | road traffic fines (100-trace sample, 4TU) | Italian local police fines, with appeals to the prefecture and the judge | several organisations on one case; appeals behave like review / re-review | a fine is not a grievance; dates only; the police dominate |
# | NYC council casework (NYC Open Data) | constituent casework by council offices, 341k cases | elected offices doing casework; time to close with censoring at scale | one office per case (no coordination recorded), no constituent id (no repeats), no 60-day statutory clock |
#
# Citations: see the table printed below (`list_real_datasets`). The logs stay in
# `../shared/data/real` and are never copied into casekit; when they are absent, each cell says
# so and skips.

# %% tags=["parameters"]
REAL_DIR = None  # None: $CASEKIT_REAL_DATA or ../shared/data/real next to the checkout

# %%
import matplotlib.pyplot as plt
from lifelines import KaplanMeierFitter

import casekit as ck
from casekit import plotting

plotting.use_cjk_font()
try:
    print("real logs 真实数据:", ck.datasets.real_data_root(REAL_DIR))
    catalogue = ck.datasets.list_real_datasets(REAL_DIR)
except ck.datasets.RealDataNotFoundError as exc:
    catalogue = None
    print("skipped: real logs not found 未找到真实数据:", exc)
catalogue

# %% [markdown]
# **Receipt 收件流程**: hand-overs between work groups, read as agencies.

# %%
try:
    receipt = ck.datasets.load_receipt(root=REAL_DIR)
    H = ck.build_handover_network(receipt)
    fig, ax = plt.subplots(figsize=(7, 6))
    plotting.plot_handover_matrix(H, ax=ax, normalise="row")
    plt.show()
    print(ck.find_referral_loops(receipt).head())
except ck.datasets.RealDataNotFoundError as exc:
    print("skipped:", exc)

# %% [markdown]
# **Road traffic fines 交通罚款** (100-trace sample): who acts on a fine, and how long it stays open.
# The log has no `close` step, so every fine counts as open (censored at the observation end):
# deciding what "closed" means (payment? credit collection?) is the analyst's job, exactly as
# deciding between 办结 and 息诉罢访 is in petition work.

# %%
try:
    fines = ck.datasets.load_road_traffic(sample=True, root=REAL_DIR)
    fine_cases = ck.build_case_table(fines)
    print(fine_cases["pattern"].value_counts().head())
    print(fine_cases[["duration_days", "closed"]].describe())
except ck.datasets.RealDataNotFoundError as exc:
    print("skipped:", exc)

# %% [markdown]
# **NYC council casework 纽约市议会个案**: the naive closed-only median against the censored one.

# %%
try:
    nyc = ck.datasets.load_nyc_council_casework(root=REAL_DIR)
    nyc_cases = ck.build_case_table(nyc, link=False)
    closed = nyc_cases[nyc_cases["closed"]]
    naive = KaplanMeierFitter(label="naive").fit(closed["duration_days"])
    km = KaplanMeierFitter(label="censored").fit(nyc_cases["duration_days"], nyc_cases["closed"])
    fig, ax = plt.subplots(figsize=(7, 4))
    plotting.plot_naive_vs_censored(naive, km, ax=ax)
    plt.show()
except ck.datasets.RealDataNotFoundError as exc:
    print("skipped:", exc)
