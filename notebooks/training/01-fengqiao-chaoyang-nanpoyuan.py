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
# # 培训 01 · 枫桥经验与潮阳南坡园案例
# # Training 01 · The Fengqiao approach, taught on the Chaoyang Nanpoyuan case
#
# **本节目标**：把一件真实报道过的信访事项放进《信访工作条例》（2022）的办理流程里走一遍，
# 认识"三到位一处理"和"四下沉"在案件中的样子。
#
# **Goal**: walk a reported petition matter through the procedure of the 2022 Regulation on
# Petition Work, and see what "three in place, one handling" and the "four downward shifts" look
# like in a case.
#
# **来源 Source**：案例根据以下报道改写（意译，非原文）。The case is paraphrased from:
# 欧汉华、方楚群、郑望凡，《广东汕头潮阳：服务群众零距离 把信访工作做到群众心坎上》，中国法事网，
# 2023-10-16. The mapping onto the procedure is casekit's reading of the article, not an
# official record; the dates are illustrative (the article gives none).

# %% tags=["parameters"]
USE_SAMPLE = True  # take the case from the synthetic sample when it contains it

# %%
import pandas as pd

import casekit as ck
from casekit import training

pd.set_option("display.max_colwidth", 80)
print(training.SEED_SOURCE["citation_zh"])
print(training.SEED_SOURCE["citation_en"])

# %% [markdown]
# ## 一、枫桥经验 · The Fengqiao experience
#
# 《信访工作条例》第十五条要求街道、乡镇和村（社区）坚持和发展新时代"枫桥经验"，
# 努力做到**小事不出村、大事不出镇、矛盾不上交**。潮阳的做法还借鉴了"浦江经验"：
# 变群众上访为**领导下访**（第十八条：定期下访、包案化解）。
#
# Art. 15 of the 2022 regulation asks streets, towns and village or community committees to
# keep developing the Fengqiao experience: small matters stay in the village, big ones in the
# town, conflicts are not passed upward. Chaoyang also drew on the Pujiang experience: instead of
# people petitioning upward, leaders go down to them (Art. 18: field visits, case ownership).

# %% [markdown]
# ## 二、案件经过 · The case
#
# 西门社区居民吴某反映南坡园烂尾楼外墙存在安全隐患。区委副书记包案并带案下访；信访部门牵头，
# 街道、社区、法院、住建等部门到现场核实、多次会商；社区垫资请专业队伍修缮外墙。
# 之后吴某认为主体砖块仍可能掉落，再次反映；街道向上级申请专项资金16万元继续维修，直至满意。
# 回访时吴某签下息诉罢访承诺书。
#
# A resident reported the unsafe facade of the unfinished Nanpoyuan building. A district deputy
# Party secretary took ownership and visited the site; the petition bureau led the street, the
# community, the court and the housing bureau in verifying and conferring; the community
# advanced funds to repair the facade. The resident then reported that bricks of the main
# structure could still fall; the street obtained a 160,000-yuan special fund and repaired until
# he was satisfied. At the follow-up visit he signed a pledge to cease petitioning.

# %%
story = training.build_nanpoyuan_trace()
story[["filing", "activity", "actor_zh", "note_zh", "note_en"]]

# %% [markdown]
# 合成样本中也有这件事（事项代码 `M-NANPOYUAN`），是按同一故事生成的办件记录。
# The synthetic sample holds the same story as an event log (matter `M-NANPOYUAN`).

# %%
events = ck.load_sample_events() if USE_SAMPLE else None
trace = training.build_nanpoyuan_trace(events)
print("trace from 来源:", trace.attrs["source"])
trace

# %% [markdown]
# ## 三、放进办理流程 · Through the procedure state machine
#
# 每一步之后案件处于什么状态？`allowed=False` 表示条例流程中没有这一步（值得讨论，而非报错）。
# After each step, which state is the matter in? `allowed=False` marks a step the procedure does
# not foresee: a point for discussion, not an error.

# %%
walk = training.build_state_walk(trace)
walk["state_zh"] = walk["state_after"].map(lambda s: training.STATES[s][0])
walk[["filing", "timestamp", "activity", "agency_type", "state_before", "state_after",
      "state_zh", "allowed"]]

# %% [markdown]
# 第二次信访是**同人同事**的重复信访（办结后再次信访，`repeat_after_close`）。
# 办结（CLOSED）不等于化解（SETTLED）：第一轮办结了，但问题没有化解。
#
# The second filing is a repeat petition (same person, same matter, after closure). Closed is not
# settled: round one was closed, yet the problem was not resolved.

# %%
deadline = training.handling_deadline(trace.query("activity == 'accept'")["timestamp"].iloc[0])
print("第一轮办理期限 handling deadline of round 1 (60 days from acceptance):", deadline)
print("延期后 with an approved extension (+30):",
      training.handling_deadline(trace.query("activity == 'accept'")["timestamp"].iloc[0],
                                 extended=True))

# %% [markdown]
# ## 四、三到位一处理 · Three in place, one handling (Art. 27)
#
# 本案属于"诉求合理的解决问题到位"。This case is the first mode: a reasonable demand, solved.

# %%
training.HANDLING_MODES_TABLE

# %% [markdown]
# ## 五、四下沉 · The four downward shifts
#
# **注意**："四下沉"是该报道的用语，我们未在其他来源中找到定义。
# **Note**: "four downward shifts" is the article's own term; we found no other source defining it.

# %%
print(training.FOUR_DOWNWARD_SHIFTS.attrs["note"])
training.FOUR_DOWNWARD_SHIFTS

# %% [markdown]
# ## 讨论 · Discussion
# 1. 哪一步最能体现"矛盾不上交"？Which step best shows "conflicts are not passed upward"?
# 2. 第一轮办结时，还缺什么？What was missing when round one was closed?
# 3. 如果法院没有参加联席会议，会怎样？What if the court had not joined the conference?
#
# 下一节：练习与课堂推演游戏。Next: exercises and the classroom what-if game.
