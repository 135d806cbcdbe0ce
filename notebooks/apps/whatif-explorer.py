# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
SEED = 0

# %%
import ipywidgets as widgets
from IPython.display import display

status = widgets.HTML("<b>computing… 正在计算，请稍候</b>")
status.add_class("ck-app-status")
display(status)

# %% [markdown]
# # 情景推演 · What-if explorer
# 拖动滑块，松开后结果更新；每个杠杆的假设见下方表格。
# Move a slider and release it; the assumptions behind each lever are in the table below.

# %%
from casekit import plotting
from casekit.widgets import WhatIfPanel

plotting.use_cjk_font()
panel = WhatIfPanel(seed=SEED)  # the synthetic district, assumed effects
status.value = "ready 就绪: move a slider 拖动滑块"
display(panel)
