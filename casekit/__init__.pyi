"""Type stub of the lazy facade ``casekit/__init__.py``: where each public name is defined.

Editors and type checkers read this file to jump from ``ck.build_case_table`` to its definition;
at run time the names are loaded lazily by ``casekit.__getattr__``. It must list exactly
``casekit._EXPORTS`` and ``casekit._SUBMODULES`` (tests/test_architecture.py checks it): add a
public name in both places.
"""

from typing import Any

from casekit import cases as cases
from casekit import cli as cli
from casekit import datasets as datasets
from casekit import engine as engine
from casekit import io as io
from casekit import kpi as kpi
from casekit import network as network
from casekit import plotting as plotting
from casekit import privacy as privacy
from casekit import ranking as ranking
from casekit import repeat as repeat
from casekit import report as report
from casekit import scale as scale
from casekit import schema as schema
from casekit import simulate as simulate
from casekit import survival as survival
from casekit import synth as synth
from casekit import timestamps as timestamps
from casekit import training as training
from casekit import validate as validate
from casekit import widgets as widgets
from casekit._utils import CasekitError as CasekitError
from casekit._utils import FileUnusableError as FileUnusableError
from casekit.cases import DelayedEntryWarning as DelayedEntryWarning
from casekit.cases import build_case_intervals as build_case_intervals
from casekit.cases import build_case_table as build_case_table
from casekit.cases import build_matter_view as build_matter_view
from casekit.datasets._real import load_bpic14 as load_bpic14
from casekit.datasets._real import load_bpic15 as load_bpic15
from casekit.datasets._real import load_nyc311_sample as load_nyc311_sample
from casekit.datasets._real import load_nyc_council_casework as load_nyc_council_casework
from casekit.datasets._real import load_receipt as load_receipt
from casekit.datasets._real import load_road_traffic as load_road_traffic
from casekit.datasets._real import load_tipdm_messages as load_tipdm_messages
from casekit.datasets._sample import load_sample_events as load_sample_events
from casekit.datasets._sample import load_sample_truth as load_sample_truth
from casekit.io import read_events as read_events
from casekit.io import read_events_report as read_events_report
from casekit.io import read_table as read_table
from casekit.io import write_events as write_events
from casekit.kpi import build_deadline_table as build_deadline_table
from casekit.kpi import on_time_rates as on_time_rates
from casekit.kpi import overdue_cases as overdue_cases
from casekit.network import build_agency_networks as build_agency_networks
from casekit.network import build_handover_network as build_handover_network
from casekit.network import build_joint_conference_network as build_joint_conference_network
from casekit.network import build_network_by_period as build_network_by_period
from casekit.network import build_working_together_network as build_working_together_network
from casekit.network import edges_to_frame as edges_to_frame
from casekit.network import find_referral_loops as find_referral_loops
from casekit.network import network_metrics as network_metrics
from casekit.network import nodes_to_frame as nodes_to_frame
from casekit.privacy import assert_no_pii as assert_no_pii
from casekit.privacy import find_pii as find_pii
from casekit.privacy import is_valid_id_number as is_valid_id_number
from casekit.privacy import mask_free_text as mask_free_text
from casekit.privacy import mask_value as mask_value
from casekit.privacy import pseudonymise as pseudonymise
from casekit.privacy import spreadsheet_safe as spreadsheet_safe
from casekit.privacy import suppress_small_cells as suppress_small_cells
from casekit.ranking import describe_ranking as describe_ranking
from casekit.ranking import excluded_patterns as excluded_patterns
from casekit.ranking import fit_time_varying_cox as fit_time_varying_cox
from casekit.ranking import rank_collaborations as rank_collaborations
from casekit.repeat import build_matter_table as build_matter_table
from casekit.repeat import link_repeats as link_repeats
from casekit.repeat import normalise_address as normalise_address
from casekit.schema import guess_columns as guess_columns
from casekit.schema import label_of as label_of
from casekit.schema import to_identifier as to_identifier
from casekit.schema import validate_events as validate_events
from casekit.simulate import ASSUMPTIONS as ASSUMPTIONS
from casekit.simulate import calibrate_baseline as calibrate_baseline
from casekit.simulate import estimate_lever_effects as estimate_lever_effects
from casekit.simulate import simulate_year as simulate_year
from casekit.simulate import sweep as sweep
from casekit.survival import compare_patterns as compare_patterns
from casekit.survival import fit_cox as fit_cox
from casekit.survival import fit_time_to_close as fit_time_to_close
from casekit.survival import median_table as median_table
from casekit.synth import generate_district as generate_district
from casekit.synth import write_district as write_district
from casekit.timestamps import parse_timestamps as parse_timestamps
from casekit.validate import ReadResult as ReadResult
from casekit.validate import validate_table as validate_table

__version__: str
__all__ = [
    "ASSUMPTIONS",
    "CasekitError",
    "DelayedEntryWarning",
    "FileUnusableError",
    "ReadResult",
    "__version__",
    "assert_no_pii",
    "build_agency_networks",
    "build_case_intervals",
    "build_case_table",
    "build_deadline_table",
    "build_handover_network",
    "build_joint_conference_network",
    "build_matter_table",
    "build_matter_view",
    "build_network_by_period",
    "build_working_together_network",
    "calibrate_baseline",
    "compare_patterns",
    "describe_ranking",
    "edges_to_frame",
    "estimate_lever_effects",
    "excluded_patterns",
    "find_pii",
    "find_referral_loops",
    "fit_cox",
    "fit_time_to_close",
    "fit_time_varying_cox",
    "generate_district",
    "guess_columns",
    "is_valid_id_number",
    "label_of",
    "link_repeats",
    "load_bpic14",
    "load_bpic15",
    "load_nyc311_sample",
    "load_nyc_council_casework",
    "load_receipt",
    "load_road_traffic",
    "load_sample_events",
    "load_sample_truth",
    "load_tipdm_messages",
    "mask_free_text",
    "mask_value",
    "median_table",
    "network_metrics",
    "nodes_to_frame",
    "normalise_address",
    "on_time_rates",
    "overdue_cases",
    "parse_timestamps",
    "pseudonymise",
    "rank_collaborations",
    "read_events",
    "read_events_report",
    "read_table",
    "simulate_year",
    "spreadsheet_safe",
    "suppress_small_cells",
    "sweep",
    "to_identifier",
    "validate_events",
    "validate_table",
    "write_district",
    "write_events",
]
_EXPORTS: dict[str, str]
_SUBMODULES: set[str]

def __getattr__(name: str) -> Any: ...
def __dir__() -> list[str]: ...
