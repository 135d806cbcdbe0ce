"""Type stub of the lazy facade ``casekit/__init__.py``: where each public name is defined.

Editors and type checkers read this file to jump from ``ck.build_case_table`` to its definition;
at run time the names are loaded lazily by ``casekit.__getattr__``. It must list exactly
``casekit._EXPORTS`` and ``casekit._SUBMODULES`` (tests/test_architecture.py checks it): add a
public name in both places.
"""

from typing import Any

from casekit._utils import (
    CasekitError as CasekitError,
    FileUnusableError as FileUnusableError,
)
from casekit.schema import (
    validate_events as validate_events,
    to_identifier as to_identifier,
    label_of as label_of,
    guess_columns as guess_columns,
)
from casekit.synth import (
    generate_district as generate_district,
    write_district as write_district,
)
from casekit.datasets._sample import (
    load_sample_events as load_sample_events,
    load_sample_truth as load_sample_truth,
)
from casekit.datasets._real import (
    load_receipt as load_receipt,
    load_road_traffic as load_road_traffic,
    load_bpic14 as load_bpic14,
    load_bpic15 as load_bpic15,
    load_nyc_council_casework as load_nyc_council_casework,
    load_nyc311_sample as load_nyc311_sample,
    load_tipdm_messages as load_tipdm_messages,
)
from casekit.io import (
    read_events as read_events,
    read_events_report as read_events_report,
    read_table as read_table,
    write_events as write_events,
)
from casekit.timestamps import (
    parse_timestamps as parse_timestamps,
)
from casekit.validate import (
    validate_table as validate_table,
    ReadResult as ReadResult,
)
from casekit.privacy import (
    pseudonymise as pseudonymise,
    is_valid_id_number as is_valid_id_number,
    mask_free_text as mask_free_text,
    mask_value as mask_value,
    spreadsheet_safe as spreadsheet_safe,
    suppress_small_cells as suppress_small_cells,
    find_pii as find_pii,
    assert_no_pii as assert_no_pii,
)
from casekit.network import (
    build_working_together_network as build_working_together_network,
    build_handover_network as build_handover_network,
    build_joint_conference_network as build_joint_conference_network,
    build_agency_networks as build_agency_networks,
    build_network_by_period as build_network_by_period,
    edges_to_frame as edges_to_frame,
    nodes_to_frame as nodes_to_frame,
    network_metrics as network_metrics,
    find_referral_loops as find_referral_loops,
)
from casekit.repeat import (
    link_repeats as link_repeats,
    build_matter_table as build_matter_table,
    normalise_address as normalise_address,
)
from casekit.cases import (
    build_case_table as build_case_table,
    build_matter_view as build_matter_view,
    build_case_intervals as build_case_intervals,
    DelayedEntryWarning as DelayedEntryWarning,
)
from casekit.survival import (
    fit_time_to_close as fit_time_to_close,
    median_table as median_table,
    compare_patterns as compare_patterns,
    fit_cox as fit_cox,
)
from casekit.ranking import (
    rank_collaborations as rank_collaborations,
    fit_time_varying_cox as fit_time_varying_cox,
    describe_ranking as describe_ranking,
    excluded_patterns as excluded_patterns,
)
from casekit.kpi import (
    build_deadline_table as build_deadline_table,
    on_time_rates as on_time_rates,
    overdue_cases as overdue_cases,
)
from casekit.simulate import (
    calibrate_baseline as calibrate_baseline,
    simulate_year as simulate_year,
    sweep as sweep,
    ASSUMPTIONS as ASSUMPTIONS,
)

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

__version__: str
__all__: list[str]
_EXPORTS: dict[str, str]
_SUBMODULES: set[str]

def __getattr__(name: str) -> Any: ...
def __dir__() -> list[str]: ...
