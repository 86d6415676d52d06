"""Reference data loaded into the warehouse: NDC crosswalks (the FDA NDC Directory, a CSV of NDCs) and a
user's RxNorm release or OMOP vocabulary.

Neither is needed for codes to map: the crosswalks shipped in rules/rxnorm/ map NDCs and RxNorm codes of
the rule ingredients out of the box. An import adds the codes they do not know (products newer or older
than the shipped release) and, for the codes it holds, decides what they map to. A night after an import
changed a crosswalk recomputes every patient.
"""

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
    path: Path | str, warehouse: Path | str | None = None, rules_dir: Path | str | None = None
) -> dict[str, object]:
    """Record, for every NDC of `path`, the rule-set ingredients it contains (and the route where it
    matters) in `ref_ndc`. `path` is either the FDA NDC Directory's folder (product.txt and package.txt,
    unzipped as downloaded; replaces the previous FDA import) or a CSV file with a header row `ndc` and
    either `rxcui` or `ingredient` (optional `route`, `product_name`; replaces the previous import of a file
    of that name). NDCs from other sources are kept. Returns the counts (with "kind": "fda" or "csv")."""
    from transforms.ndc_import import import_ndc_csv, import_ndc_directory

    source = Path(path)
    ruleset = load_rules(rules_dir)  # agents and synonyms do not depend on the rule sets
    target = resolve(warehouse)
    wait = busy_wait()
    with warehouse_lock(target, "reference import-ndc", wait):
        con = connect(target, wait=wait)
        try:
            if source.is_dir():
                return {"kind": "fda", **import_ndc_directory(con, source, ruleset)}
            return {"kind": "csv", **import_ndc_csv(con, source, ruleset)}
        finally:
            con.close()


@owner_only()
def import_rxnorm(
    path: Path | str, warehouse: Path | str | None = None, rules_dir: Path | str | None = None
) -> dict[str, object]:
    """Record, for every RxNorm code of a user's RxNorm release (RXNCONSO.RRF and RXNREL.RRF, in `path` or
    its rrf/ folder) or OMOP vocabulary (CONCEPT.csv with CONCEPT_ANCESTOR.csv or CONCEPT_RELATIONSHIP.csv,
    as Athena exports them), the rule-set ingredients it holds (and the route where it matters) in
    `ref_rxnorm`; an OMOP vocabulary with CONCEPT_RELATIONSHIP also gives its NDCs to `ref_ndc`. Replaces the
    previous import of the same kind (RxNorm release or OMOP vocabulary). Returns the counts."""
    from transforms.rxnorm_import import import_rxnorm_release

    ruleset = load_rules(rules_dir)
    target = resolve(warehouse)
    wait = busy_wait()
    with warehouse_lock(target, "reference import-rxnorm", wait):
        con = connect(target, wait=wait)
        try:
            return import_rxnorm_release(con, Path(path), ruleset)
        finally:
            con.close()
