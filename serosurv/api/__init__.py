"""The Python API: every operation of the `serosurv` command as a function that takes plain arguments,
returns data (dataclasses and Polars DataFrames) and raises `SerosurvError` for anything the user can fix.
The CLI (serosurv.cli) is a thin layer over these functions and does all terminal formatting.

    from serosurv import api
    night = api.run(["claims.parquet"], as_of=date(2025, 12, 31))
    api.list_alerts().alerts            # the worklist as a Polars DataFrame, most dangerous first

Every function that reads or writes the warehouse takes `warehouse=`; without it, the one default of
`serosurv.core.config.warehouse_path` ($SEROSURV_WAREHOUSE, the configuration, ./serosurv.duckdb).
"""

from serosurv.api.alerts import (
    AlertDetail,
    Worklist,
    act,
    action_codes,
    export_actions,
    list_alerts,
    show_alert,
)
from serosurv.api.explain import explain_patient
from serosurv.api.nights import Generated, NightResult, demo, generate, run, serve
from serosurv.api.quarantine import QuarantineList, list_quarantine
from serosurv.api.reference import import_ndc, import_rxnorm
from serosurv.api.reports import AuditFiles, PrevalenceFiles, audit, dashboard, prevalence
from serosurv.api.rules import (
    AgentList,
    Explanation,
    PairExplanation,
    RulesCheck,
    add_synonym,
    check_rules,
    explain,
    list_agents,
)
from serosurv.api.warehouse import query
from transforms.explain import PatientExplanation

__all__ = [
    "AgentList",
    "AlertDetail",
    "AuditFiles",
    "Explanation",
    "Generated",
    "NightResult",
    "PairExplanation",
    "PatientExplanation",
    "PrevalenceFiles",
    "QuarantineList",
    "RulesCheck",
    "Worklist",
    "act",
    "action_codes",
    "add_synonym",
    "audit",
    "check_rules",
    "dashboard",
    "demo",
    "explain",
    "explain_patient",
    "export_actions",
    "generate",
    "import_ndc",
    "import_rxnorm",
    "list_agents",
    "list_alerts",
    "list_quarantine",
    "prevalence",
    "query",
    "run",
    "serve",
    "show_alert",
]
