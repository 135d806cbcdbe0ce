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
# # 04 · Repeat cases and time to close 重复信访与办结时间
#
# What you will learn: why open cases must be *censored*, not dropped; Kaplan-Meier curves by
# collaboration pattern; hazard ratios adjusted for category, street and more; why a pattern
# must count from the moment it forms (time-varying), not from the case's start; the ranking of
# patterns for repeat filings and how sure it is.

# %% tags=["parameters"]
EVENTS_PATH = None  # None: the bundled sample
MIN_CASES = 30
DYNAMIC_CASES = 8000  # size of the district where agencies join over time (section 5)
SEED = 7

# %%
import matplotlib.pyplot as plt
from lifelines import KaplanMeierFitter

import casekit as ck
from casekit import plotting

plotting.use_cjk_font()
events = ck.load_sample_events() if EVENTS_PATH is None else ck.read_events(EVENTS_PATH)
cases = ck.build_case_table(events)
print("observation end 观察截止:", cases.attrs["observation_end"])
cases["repeat_kind"].value_counts()

# %% [markdown]
# **Censoring 删失**: at the observation end some cases are still open. Averaging only the closed
# ones (naive) keeps the cases that closed quickly and biases the time to close downwards.
# Kaplan-Meier uses the open cases too: they count as "open for at least this long".

# %%
closed = cases[cases["closed"]]
naive = KaplanMeierFitter(label="naive").fit(closed["duration_days"])
censored = KaplanMeierFitter(label="censored").fit(cases["duration_days"], cases["closed"])
print(f"open 未办结: {1 - cases['closed'].mean():.1%}; naive median {naive.median_survival_time_:.0f} d, "
      f"censoring-aware median {censored.median_survival_time_:.0f} d")
fig, ax = plt.subplots(figsize=(7, 4))
plotting.plot_naive_vs_censored(naive, censored, ax=ax)
plt.show()

# %% [markdown]
# **Kaplan-Meier by pattern 按协同模式**, repeat filings only, the most common patterns.

# %%
repeat = cases[cases["repeat_ordinal"] > 1]
top = repeat["pattern"].value_counts().index[:5]
fitters = ck.fit_time_to_close(repeat[repeat["pattern"].isin(top)], by="pattern")
fig, ax = plt.subplots(figsize=(8, 5))
plotting.plot_time_to_close(fitters, ax=ax)
plt.show()

# %% [markdown]
# **Ranking with uncertainty 排名及其不确定性**: a Cox model with the pattern *in force* as a
# category (a pattern counts from the moment its last agency type joins), adjusted for
# category, street, repeat ordinal, channel and year, errors clustered by matter. Patterns
# under `MIN_CASES` are listed separately, never silently dropped. `p_best` is the probability
# of being fastest; `in_best_set` marks the 90% confidence set for the fastest pattern.

# %%
ranking = ck.rank_collaborations(events, repeat_only=True, min_cases=MIN_CASES, check_ph=False)
print(ck.describe_ranking(ranking))
ranking[["rank", "pattern", "n_cases", "hazard_ratio", "hr_ci_low", "hr_ci_high", "p_holm",
         "p_best", "in_best_set", "cif_30"]].round(3)

# %%
fig, ax = plt.subplots(figsize=(7, 4))
plotting.plot_forest(ranking, ax=ax)
plt.show()

# %% [markdown]
# ## 5 · When agencies join while the case is open 协同在办理过程中形成
#
# In the bundled sample every agency acts in the first days. In real petition work the court or
# the housing bureau is drawn in when a case drags on. Classify each case by the agencies of its
# *whole life* and a case closed on day 3 can never have five agencies: multi-agency patterns
# look slow even where they speed things up (immortal time). The time-varying method counts a
# pattern only from the moment it forms. Below, one synthetic district where agencies join over
# time and each collaboration's effect starts when it forms, ranked both ways, with the planted
# truth as black crosses.

# %%
dynamic_events, dynamic_truth = ck.generate_district(DYNAMIC_CASES, seed=SEED)
by_method = {
    method: ck.rank_collaborations(dynamic_events, method=method, repeat_only=False,
                                   min_cases=MIN_CASES, check_ph=False)
    for method in ("time-varying", "whole-case")
}
reference = by_method["time-varying"].attrs["reference"]
first = dynamic_truth["pattern_hazard_multiplier"]["first"]
planted = {p: m / first[reference] for p, m in first.items() if reference in first}
fig, ax = plt.subplots(figsize=(8, 6))
plotting.plot_method_comparison(by_method, planted=planted, ax=ax)
plt.show()

# %%
for method, r in by_method.items():
    known = r[r["pattern"].isin(planted)]
    rho = known["hazard_ratio"].rank().corr(known["pattern"].map(planted).rank())
    print(f"{method:13s} rank correlation with the planted effects 与预设效应的秩相关: {rho:+.2f}")

# %% [markdown]
# ## 6 · Why the top-ranked pattern is (or is not) the planted one 排名第一与预设最快模式
#
# The bundled sample was generated with a planted fastest pattern for repeat filings. When the
# ranking of section 4 puts another pattern first, the sentence below, computed by casekit from
# that ranking, says why with the numbers: the filings each pattern rests on (small support),
# their 95% intervals (overlapping or not), and whether the planted pattern is in the 90%
# confidence set for the fastest. A rank 1 on few filings with a wide interval is a hint, not a
# finding; raise `MIN_CASES` for decisions.

# %%
truth = ck.load_sample_truth()
print(ck.describe_ranking(ranking, planted_fastest=truth["fastest_repeat_pattern"]))
