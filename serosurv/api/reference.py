"""Reference data loaded into the warehouse: the FDA NDC Directory."""

from __future__ import annotations

from pathlib import Path

from serosurv.api.warehouse import resolve
from serosurv.core.config import busy_wait
from serosurv.core.lock import warehouse_lock
from serosurv.core.permissions import owner_only
from serosurv.core.rules import load_rules
from serosurv.core.warehouse import connect


@owner_only()
def import_ndc(
    directory: Path | str, warehouse: Path | str | None = None, rules_dir: Path | str | None = None
) -> dict[str, int]:
    """Read product.txt and package.txt of the FDA NDC Directory in `directory` and record, for every
    package NDC, the rule-set ingredients it contains (and the route where it matters) in `ref_ndc`.
    Replaces the previous FDA import; NDCs from other sources are kept. Returns the counts."""
    from transforms.ndc_import import import_ndc_directory

    ruleset = load_rules(rules_dir)  # agents and synonyms do not depend on the rule sets
    target = resolve(warehouse)
    wait = busy_wait()
    with warehouse_lock(target, "reference import-ndc", wait):
        con = connect(target, wait=wait)
        try:
            return import_ndc_directory(con, Path(directory), ruleset)
        finally:
            con.close()
