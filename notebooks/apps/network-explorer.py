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
EVENTS_PATH = None  # None: the bundled sample

# %%
import ipywidgets as widgets
from IPython.display import display

status = widgets.HTML("<b>computing… 正在计算，请稍候</b>")
status.add_class("ck-app-status")
display(status)

# %% [markdown]
# # 协同网络 · Network explorer
# 选择时间段、网络类型和层级；图随之更新。Pick a period, a network kind and a level.

# %%
import casekit as ck
from casekit import plotting
from casekit.widgets import NetworkExplorer

plotting.use_cjk_font()
events = ck.load_sample_events() if EVENTS_PATH is None else ck.read_events(EVENTS_PATH)
explorer = NetworkExplorer(events)
status.value = "ready 就绪"
display(explorer)
