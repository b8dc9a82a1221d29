"""The demo's map assessment: a stratified sample of the published demo map, labelled by the
simulated response from the demo's reference raster (marked as such everywhere it shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from mcae.inference.assessment.report import write_report
from mcae.inference.assessment.response import reference_classes
from mcae.inference.classes import MCAE
from mcae.platform.annotation import assess_design, assess_service
from mcae.platform.annotation.db import Database
from mcae.platform.annotation.importer import system_user
from mcae.platform.annotation.models import AssessmentPoint
from mcae.tiles.assessments import record_figures
from mcae.tiles.catalog import CatalogStore

DEMO_POINTS = 400
DEMO_SEED = 7


def assess_demo(db: Database, store: CatalogStore, out: Path, city: str = "demo-city",
                layer: str = "mcae") -> dict[str, Any]:
    """Draw, label from ``out/reference.tif`` and report; the report goes to ``out/assessment``."""
    with db.session() as session:
        user = system_user(session).id
        sample, rows = assess_design.draw(session, store, city, layer, seed=DEMO_SEED, points=DEMO_POINTS,
                                          min_per_class=30, second_share=0.0, user_id=user)
        session.flush()
        points = session.execute(select(AssessmentPoint.lon, AssessmentPoint.lat)
                                 .where(AssessmentPoint.sample_id == sample.id).order_by(AssessmentPoint.seq)).all()
        classes = reference_classes(str(out / "reference.tif"), [(p.lon, p.lat) for p in points])
        assess_service.label_from_reference(session, sample.id, classes, user)
        ident = sample.id
        assess_design.write_design(out / "assessment", sample, rows)
    with db.reader() as session:
        report = assess_service.sample_report(session, ident)
    write_report(report, out / "assessment", {c.id: c.name for c in MCAE})
    record_figures(store.root, city, layer, str(report["version"]), assess_service.published_figures(report))
    return report
