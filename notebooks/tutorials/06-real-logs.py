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
# What you will learn: running casekit on three public logs and what carries over to petition
# work (信访) and what does not:
#
# | log | what it is | carries over | does not |
# |---|---|---|---|
# | receipt (BPI, 4TU) | a Dutch municipality's building-permit receipt phase, 8,577 events | hand-overs between groups, referral loops, censoring | no petitioners, no repeat filings, groups are not agencies |
# | road traffic fines (100-trace sample) | Italian police fines process | long waits, appeals like review/re-review | a fine is not a grievance; one agency dominates |
# | NYC council casework | constituent casework by council offices | repeat contacts, referral to city agencies | different law, no statutory 60-day clock |
#
# Cite each log as its `SOURCES.md` says. The logs live in `../shared/data/real` and are not
# copied into casekit; when they are absent, the cells below say so and skip.

# %% tags=["parameters"]
REAL_DIR = None  # None: ../shared/data/real next to the checkout
N_TRACES = 100

# %%
import matplotlib.pyplot as plt

import casekit as ck
from casekit import plotting

plotting.use_cjk_font()
available = ck.datasets.real_data_dir(REAL_DIR)
print("real logs 真实数据:", available or "not found: the cells below skip 未找到，以下跳过")

# %% [markdown]
# **Receipt 收件流程**: hand-overs between organisational groups, as agencies.

# %%
receipt = ck.datasets.load_receipt(REAL_DIR) if available else None
if receipt is None:
    print("skipped: receipt log not found")
else:
    H = ck.build_handover_network(receipt)
    fig, ax = plt.subplots(figsize=(7, 6))
    plotting.plot_handover_matrix(H, ax=ax, normalise="row")
    plt.show()

# %% [markdown]
# **Road traffic fines 交通罚款** (first traces): time to close with open traces censored.

# %%
fines = ck.datasets.load_road_traffic(REAL_DIR, n_traces=N_TRACES) if available else None
if fines is None:
    print("skipped: road traffic log not found")
else:
    fine_cases = ck.build_case_table(fines)
    print(fine_cases[["duration_days", "closed"]].describe())

# %% [markdown]
# **NYC council casework 纽约市议会个案**: referral loops and repeat contacts.

# %%
nyc = ck.datasets.load_nyc_council_casework(REAL_DIR) if available else None
if nyc is None:
    print("skipped: NYC council casework not found")
else:
    loops = ck.find_referral_loops(nyc)
    print(f"{len(nyc['case_id'].unique()):,} cases; referral loops: {len(loops)}")
    loops.head()
