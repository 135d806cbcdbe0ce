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
# # 培训 03 · 办理时限与按期办结 · Statutory deadlines and on-time closure
#
# **本节目标**：熟悉《信访工作条例》（2022）规定的时限；在合成的潮阳区样本上计算按期办结率，
# 找出超期件；讨论"办结率很高"能说明什么、不能说明什么。
#
# **Goal**: know the statutory clocks of the 2022 regulation, compute on-time rates on the
# synthetic Chaoyang-like sample, list the overdue cases, and discuss what a high on-time rate
# does and does not show.
#
# 所有数据均为合成数据。All data here are synthetic.

# %% tags=["parameters"]
TOP_STREETS = 13

# %%
import matplotlib.pyplot as plt
import pandas as pd

import casekit as ck
from casekit import kpi, plotting, schema, training

plotting.use_cjk_font()

# %% [markdown]
# ## 一、时限 · The clocks
#
# | 时限 clock | 天数 days | 起算 from | 条款 article |
# |---|---|---|---|
# | 转送、交办 route | 15 | 收到之日 receipt | 第二十二条 Art. 22 |
# | 告知 notify | 15 | 收到之日 receipt | 第二十三条 Art. 23 |
# | 办结 handle | 60 (+30 延期 extension) | 受理之日 acceptance | 第三十四条 Art. 34 |
# | 请求复查/复核 request review / re-review | 30 | 收到书面答复之日 | 第三十五、三十六条 |
# | 复查/复核决定 decide review / re-review | 30 | 收到请求之日 | 第三十五、三十六条 |

# %%
pd.Series(schema.DEADLINES, name="days 天")

# %% [markdown]
# 南坡园案第一轮：受理之日起60日内办结，延期不超过30日。
# Nanpoyuan, round one: close within 60 days of acceptance, at most 30 more with an extension.

# %%
accepted = training.build_nanpoyuan_trace().query("activity == 'accept'")["timestamp"].iloc[0]
print("受理 accepted:", accepted.date(), "| 期限 due:", training.handling_deadline(accepted),
      "| 延期后 extended:", training.handling_deadline(accepted, extended=True))

# %% [markdown]
# ## 二、按期办结率 · On-time rates by street and town
# 未到期的未办结件记为"待定"（pending），不计入分母。Open cases not yet due are pending, not late.

# %%
events = ck.load_sample_events()
cases = ck.build_case_table(events)
deadlines = kpi.build_deadline_table(events, cases)
deadlines["handle_status"].value_counts()

# %%
rates = kpi.on_time_rates(deadlines, by="street", clock="handle")
fig, ax = plt.subplots(figsize=(7, 5))
plotting.plot_kpi_on_time(rates, ax=ax, top=TOP_STREETS)
plt.show()

# %% [markdown]
# ## 三、超期件 · The overdue list

# %%
kpi.overdue_cases(deadlines, clock="handle").head(10)

# %% [markdown]
# ## 讨论 · Discussion
# 1. 按期办结率95%以上，是否说明问题都解决了？办结≠化解：看重复信访和息诉罢访。
#    Does a 95% on-time rate mean the problems were solved? Closed is not settled: look at repeat
#    filings and cessation.
# 2. 考核压力下，哪些做法会"抬高"办结率却不解决问题？
#    Under assessment pressure, which practices raise the rate without solving anything?
# 3. 南坡园案第一轮按期办结了，为什么还有第二次信访？
#    Round one of Nanpoyuan closed on time: why was there a second filing?
