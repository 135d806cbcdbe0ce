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
# # 05 · What-if explorer 情景推演
#
# What you will learn: what happens to time to close, repeat petitions and local settlement if
# leaders own more repeat cases, the joint conference meets more often, a one-stop centre opens,
# follow-up visits become routine, or repeat filings are routed through a collaboration; and,
# above all, **which effects come from the district's own records and which are assumed**.
#
# Every lever's mechanism and effect size is in an assumption table. Calibrated from an event
# log, the simulator estimates the effects the log can show (time-varying Cox models, clustered
# by matter) and keeps the documented assumption, with the reason, where it cannot.

# %% tags=["parameters"]
SEED = 0
REPLICATIONS = 10
N_CASES = 6000

# %%
import casekit as ck
from casekit import plotting

plotting.use_cjk_font()

# %% [markdown]
# **A district log 一个区的日志**: the synthetic district (dynamic mode). Its mechanisms are
# recorded but have no planted effect on re-filing, so the estimates there should sit near 1.

# %%
events, truth = ck.generate_district(N_CASES, seed=SEED)

# %% [markdown]
# **Effects estimated from the log 从日志估计的效应**: one row per mechanism and outcome, with
# the hazard ratio, its 95% interval, the cases behind it and, where it is not used, why.

# %%
effects = ck.estimate_lever_effects(events)
effects[["mechanism", "outcome", "parameter", "hazard_ratio", "hr_ci_low", "hr_ci_high",
         "n_cases", "usable", "reason"]].round(2)

# %% [markdown]
# **Estimated vs assumed 估计与假设**: the baseline's assumption table. `source` says
# "estimated from …" (value, interval, n) or keeps the assumed value with its `reason`.

# %%
estimated = ck.calibrate_baseline(events)
estimated.assumptions[["lever", "parameter", "value", "ci_low", "ci_high", "n_cases", "source",
                       "reason"]].round(3)

# %% [markdown]
# **Which levers rest on this log 哪些杠杆有日志证据**: one row per lever. `estimated` says
# whether at least one of its effects comes from the log (with its interval and cases);
# `reason` says why the others keep the assumed value.

# %%
ck.simulate.lever_evidence(estimated)

# %%
assumed = ck.calibrate_baseline(events, estimate_effects=False)

# %% [markdown]
# **One scenario, both ways 同一情景两种效应**: leaders own 60% of repeat filings. With estimated
# effects the 90% band (`low`, `high`) also carries the estimates' uncertainty; `sim_low`,
# `sim_high` are the simulation noise alone.

# %%
with_estimates = ck.simulate_year(estimated, leader_ownership_share=0.6,
                                  replications=REPLICATIONS, seed=SEED)
with_estimates.round(3)

# %%
with_estimates.attrs["band"]

# %%
with_assumptions = ck.simulate_year(assumed, leader_ownership_share=0.6,
                                    replications=REPLICATIONS, seed=SEED)
with_assumptions.round(3)

# %% [markdown]
# **Route repeat filings through a collaboration 重复件协同分流**: the patterns whose agency types
# close repeat filings fastest in the time-varying Cox model, and what happens if half of the
# repeat filings drew the first of them in from acceptance.

# %%
choices = ck.simulate.route_choices(estimated)
choices

# %%
routed = ck.simulate_year(estimated, route_share=0.5, route_repeat_to=choices[0],
                          replications=REPLICATIONS, seed=SEED)
plotting.plot_whatif(routed, baseline=ck.simulate_year(estimated, replications=REPLICATIONS,
                                                       seed=SEED),
                     metric="median_days_to_close_repeat")

# %% [markdown]
# **Does the forecast come true? 预测是否应验**: a district where leaders' ownership of repeat
# filings rises from about 20% to 60% on 2024-01-01. Calibrate on the year before the change
# only, forecast the year after with the lever at 0.6, and compare the 90% band with what the
# log then shows. Over 20 such districts the test suite reports how often the band covers
# (`tests/test_forecast.py`); here is one of them, with estimated and with assumed effects.

# %%
changed, _ = ck.simulate.planted_change_district(2 * N_CASES, seed=SEED)
check = ck.simulate.check_planted_change(changed, replications=REPLICATIONS, seed=SEED)
check.round(3)

# %%
plotting.plot_forecast_check(check)

# %%
check_assumed = ck.simulate.check_planted_change(changed, estimate_effects=False,
                                                 replications=REPLICATIONS, seed=SEED)
plotting.plot_forecast_check(check_assumed)

# %% [markdown]
# **The panel 交互面板**: each lever shows whether its effect is estimated or assumed; move a
# slider and the figure updates in place when you release it.

# %%
from casekit.widgets import WhatIfPanel

panel = WhatIfPanel(estimated, seed=SEED, replications=REPLICATIONS)
panel
