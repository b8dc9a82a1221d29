"""Drawing and importing assessment samples: from a catalog layer's published version, or
from a CSV/GeoJSON file of points labelled elsewhere with its design stated."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mcae.inference.assessment.sampling import design_sample
from mcae.inference.errors import InputError
from mcae.platform.annotation import assess_service
from mcae.platform.annotation.models import AssessmentSample
from mcae.tiles.catalog import CatalogStore


def draw(session: Session, store: CatalogStore, city: str, layer: str, *, seed: int, points: int | None = None,
         target_se: float | None = None, min_per_class: int = 50, expected_ua: dict[int, float] | None = None,
         second_share: float = 0.1, user_id: int | None = None) -> tuple[AssessmentSample, list[dict[str, Any]]]:
    """Draw a stratified sample from the layer's file as the catalog publishes it now."""
    record = store.layer(city, layer)
    if not record.categorical:
        raise InputError(f"layer {layer!r} is imagery, not a map of classes")
    path = store.layer_path(record)
    version = store.layer_version(record)
    try:
        design, drawn = design_sample(str(path), seed=seed, points=points, target_se=target_se,
                                      min_per_class=min_per_class, expected_ua=expected_ua)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    import rasterio

    with rasterio.open(path) as src:
        unit = abs(src.transform.a) if src.crs is not None and src.crs.is_projected else 0.6
    rows = [{"id": p.id, "lon": p.lon, "lat": p.lat, "stratum": p.stratum, "map_class": p.map_class,
             "row": p.row, "col": p.col, "unit_m": unit} for p in drawn]
    info = {**design.to_json(), "layer_version": version, "crs": "EPSG:4326 (points)",
            "area": "m² of each stratum in a map-centred Lambert azimuthal equal-area projection"}
    strata: dict[str, Any] = dict(info.pop("strata"))  # type: ignore[call-overload]
    sample = assess_service.create_sample(session, city=city, layer=layer, map_version=version, design=info,
                                          strata=strata, points=rows, user_id=user_id,
                                          second_share=second_share, seed=seed)
    return sample, rows


def write_design(out: Path, sample: AssessmentSample, rows: list[dict[str, Any]]) -> list[Path]:
    """``design.json`` and ``sample.csv`` (id,lon,lat,stratum,map_class)."""
    out.mkdir(parents=True, exist_ok=True)
    design = {"sample": sample.id, "city": sample.city, "layer": sample.layer, "map_version": sample.map_version,
              **sample.design, "strata": sample.strata}
    (out / "design.json").write_text(json.dumps(design, indent=2) + "\n")
    with (out / "sample.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "lon", "lat", "stratum", "map_class"])
        for r in rows:
            writer.writerow([r["id"], f"{r['lon']:.8f}", f"{r['lat']:.8f}", r["stratum"], r["map_class"]])
    return [out / "design.json", out / "sample.csv"]


def read_points(name: str, data: bytes) -> list[dict[str, Any]]:
    """Points of a CSV (id,lon,lat,stratum[,map_class][,reference]) or a GeoJSON FeatureCollection
    of points with those properties; ``reference`` empty or ``cant_tell``: can't tell."""
    text = data.decode("utf-8-sig")
    rows: list[dict[str, Any]] = []
    if name.lower().endswith((".geojson", ".json")):
        doc = json.loads(text)
        for f in doc.get("features", []):
            lon, lat = f["geometry"]["coordinates"][:2]
            rows.append({**f.get("properties", {}), "lon": lon, "lat": lat})
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    out = []
    for i, r in enumerate(rows):
        try:
            ref = r.get("reference", r.get("reference_class"))
            out.append({"lon": float(r["lon"]), "lat": float(r["lat"]), "stratum": int(r["stratum"]),
                        "map_class": int(r.get("map_class") or r["stratum"]),
                        "reference": None if ref in (None, "", "cant_tell") else int(ref),
                        "labelled": ref is not None})
        except (KeyError, TypeError, ValueError):
            raise InputError(f"point {i + 1}: needs lon, lat and stratum (numbers)") from None
    return out


def import_sample(session: Session, *, city: str, layer: str, design: dict[str, Any], points: list[dict[str, Any]],
                  user_id: int) -> AssessmentSample:
    """A sample drawn and labelled elsewhere; ``design`` states at least ``map_version`` and
    ``strata`` ({class: {pixels, area_m2}}): the estimators need the strata sizes."""
    strata = design.get("strata")
    if not isinstance(strata, dict) or not strata:
        raise InputError("the design must state its strata: {class: {\"pixels\", \"area_m2\"}}")
    try:
        strata = {str(int(k)): {"pixels": int(v.get("pixels", 0)), "area_m2": float(v["area_m2"]),
                                "n": sum(1 for p in points if p["stratum"] == int(k))} for k, v in strata.items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InputError("each stratum needs an area_m2 (and pixels)") from None
    unknown = {p["stratum"] for p in points} - {int(k) for k in strata}
    if unknown:
        raise InputError(f"points in strata the design does not state: {sorted(unknown)}")
    info = {k: v for k, v in design.items() if k not in ("strata",)}
    info.setdefault("method", "imported")
    sample = assess_service.create_sample(session, city=city, layer=layer,
                                          map_version=str(design.get("map_version", "unknown")), design=info,
                                          strata=strata, points=points, user_id=user_id, origin="imported",
                                          response="imported", second_share=0.0)
    if any(p["labelled"] for p in points):
        session.flush()
        assess_service.label_from_reference(session, sample.id, [p["reference"] for p in points], user_id,
                                            source="import")
    return sample
