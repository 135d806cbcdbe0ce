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
# # 02 · Data and validation: a Chinese Excel export, the quarantine, privacy
# # 数据与校验：中文 Excel 导出、隔离行、隐私保护
#
# What you will learn: how casekit reads an export from a Chinese case system (Chinese headers and
# labels, names, ID numbers and phone numbers), which rows it quarantines and why, and how the
# petitioner's identity becomes a keyed code before anything else sees it.
#
# The export here is **fake**: written from the synthetic sample with invented identities.
# 本节所用导出文件为合成数据，身份信息均为虚构。

# %% tags=["parameters"]
N_CASES = 300
N_BROKEN = 2
SEED = 42

# %%
import tempfile
from pathlib import Path

import pandas as pd

import casekit as ck
from casekit import plotting, training

plotting.use_cjk_font()
workdir = Path(tempfile.mkdtemp(prefix="casekit-tutorial-"))

# %% [markdown]
# **1. The export 导出文件**: what a researcher typically receives. We only count the PII columns
# here; never print them.

# %%
xlsx = training.write_practice_export(ck.load_sample_events(), workdir / "信访件导出.xlsx",
                                      n_cases=N_CASES, n_broken=N_BROKEN, seed=SEED)
raw = pd.read_excel(xlsx, dtype=str)
print(xlsx.name, raw.shape)
print("columns 列名:", list(raw.columns))

# %% [markdown]
# **2. Read and validate 读入并校验**: headers and labels are recognised; every row is either
# accepted or quarantined, and `read = accepted + quarantined` always holds.

# %%
result = ck.io.read_events_report(xlsx, key="tutorial-key-not-secret")
print(f"read {result.n_read}, accepted {result.n_accepted}, quarantined {result.n_quarantined}")
result.quarantine

# %% [markdown]
# **3. Privacy 隐私**: names, ID numbers and phones became one keyed-hash `petitioner_id`
# and were dropped. Free text is masked; a scan of the accepted events finds nothing.

# %%
events = result.events
print([c for c in events.columns if c.startswith("petitioner")])
print("PII findings 发现的个人信息:", ck.privacy.find_pii(events))
print(ck.privacy.mask_free_text(pd.Series(["信访人电话13812345678，身份证号11010519491231002X"]))[0])

# %% [markdown]
# **4. Publishing tables 发布统计表**: counts under 5 cases are suppressed.

# %%
cases = ck.build_case_table(events)
table = cases.groupby(["street", "category"]).size().rename("n_cases").reset_index()
ck.privacy.suppress_small_cells(table, k=5).head(10)

# %% [markdown]
# From the command line the same check is `casekit validate 信访件导出.xlsx --quarantine q.csv`
# (exit 0: all rows valid, 1: some quarantined, 2: file unusable).
