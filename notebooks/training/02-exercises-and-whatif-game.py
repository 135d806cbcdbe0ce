# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 培训 02 · 练习与课堂推演 · Exercises and a classroom what-if game
#
# 基于潮阳南坡园案例（改写自中国法事网2023年10月16日报道，作者欧汉华、方楚群、郑望凡）。
# Based on the Chaoyang Nanpoyuan case (paraphrased from the China Fashi Net report of
# 16 October 2023 by Ou Hanhua, Fang Chuqun and Zheng Wangfan).
#
# 每道题点击"检查"即可得到反馈。Click "Check" under each question for feedback.

# %% tags=["parameters"]
SEED = 7
REPLICATIONS = 10
BUDGET_SHARE = 0.10  # extra money: 10% of what handling costs the district now
STAFF_DAY_YUAN = 600  # a classroom assumption, not a published figure

# %%
import pandas as pd

import casekit as ck
from casekit import plotting, training

plotting.use_cjk_font()

# %% [markdown]
# ## 练习一 · Exercise 1: 联席会议 · the joint conference

# %%
training.exercise_widget("joint_conference")

# %% [markdown]
# ## 练习二 · Exercise 2: 办理期限 · the handling deadline
# 《信访工作条例》第三十四条。Regulation (2022), Art. 34.

# %%
training.exercise_widget("deadline")

# %% [markdown]
# ## 练习三 · Exercise 3: 第二次信访 · the second filing

# %%
training.exercise_widget("second_filing")

# %% [markdown]
# ## 课堂推演游戏 · Classroom what-if game
#
# 每组选择一套措施（领导包案比例、联席会议间隔、回访比例、一站式中心）。目标：重复信访更少、
# 重复件办结更快、更多在街道层面化解，且不超预算。
#
# Each team picks a set of levers. Aim: fewer repeat petitions, faster closure of repeat filings,
# more settled at street level, within the budget. The simulator's assumptions (read them!):

# %%
ck.simulate.ASSUMPTIONS

# %% [markdown]
# 预算与成本按本区计算：成本 = 专项资金 + 人力（人日 × 每人日费用），与"按现状"运行（同一随机种子）相比的
# **额外**年度成本；预算 = 现状年度成本的 10%。超预算的组得 0 分。
#
# Budget and costs follow the district: a team's cost is its **extra** yearly cost (special fund
# plus staff days x a staff-day cost) over the district as observed (same seed, so the difference
# is not noise); the budget is 10% of the observed yearly cost. A team over budget scores 0.
# Each of the three aims counts a third of the points: the best team within budget earns the whole
# third, the worst none, the others in proportion.

# %%
teams = {
    "A 领导包案": {"leader_ownership_share": 0.9},
    "B 联席会议每周": {"joint_conference_interval_days": 7},
    "C 回访全覆盖": {"follow_up_visit_share": 0.9},
    "D 信访超市": {"one_stop_center": 1},
}
scored = training.play_whatif_game(teams, replications=REPLICATIONS, seed=SEED,
                                   budget_share=BUDGET_SHARE, staff_day_yuan=STAFF_DAY_YUAN)
budget, base_cost = scored.attrs["budget_yuan"], scored.attrs["baseline_cost_yuan"]
print(f"现状年度成本 observed yearly cost: {base_cost / 1e4:,.0f} 万元 (10k yuan); "
      f"预算 budget for extra spending: {budget / 1e4:,.0f} 万元")
print(f"获胜 winner: {scored['team'].iloc[0]} ({scored['points'].iloc[0]:.0f} points)")
training.whatif_game_table(scored)

# %% [markdown]
# 哪些效应来自本区日志、哪些是假设？示例区的效应全部是假设值（`estimated` 为 False），
# 所以上面的得分取决于假设表。
# Which effects come from the district's log and which are assumed? In the sample district every
# effect is assumed (`estimated` is False): the points above rest on the assumption table.

# %%
scored.attrs["evidence"]

# %% [markdown]
# 预测能否应验？一个区在2024年1月1日把领导包案比例从约20%提到60%：只用变化前一年校准，预测变化后
# 一年，再与日志对比（灰条：90%区间；菱形：实际值，绿色表示落在区间内）。
# Does a forecast come true? A district raises leader ownership of repeat filings from about 20%
# to 60% on 2024-01-01: calibrate on the year before, forecast the year after, compare with the
# log (grey bar: the 90% band; diamond: what happened, green when inside the band).

# %%
changed, _ = ck.simulate.planted_change_district(8000, seed=SEED)
check = ck.simulate.check_planted_change(changed, replications=REPLICATIONS, seed=SEED)
plotting.plot_forecast_check(check)

# %% [markdown]
# 讨论：哪一组得分最高？得分依赖哪些假设（见上表）？如果把假设的效应减半，排名会变吗？
# Discuss: which team wins, and which assumptions does that rest on? Would halving an assumed
# effect change the order?
