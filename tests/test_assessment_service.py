"""Assessment on SQLite and PostgreSQL: `mcae assess design|label|report|import` and the API
(blind points, can't tell, the second expert, undo, stale writes, the layer's figure)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from annotation_fixtures import make_settings, seed_users
from assessment_data import blob_truth, noisy_map, write_classes
from fastapi.testclient import TestClient
from test_pipeline import mcae

from mcae.tiles.catalog import CatalogStore, City, Layer, LayerKind


@dataclass
class Env:
    tmp: Path
    url: str
    catalog: Path
    reference: Path
    tokens: dict[str, str]


def _catalog(tmp: Path) -> tuple[Path, Path]:
    truth = blob_truth(256, seed=2)
    mapped = noisy_map(truth, 2, {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.2, 5: 0.4})
    map_path = write_classes(tmp / "map.tif", mapped)
    ref_path = write_classes(tmp / "reference.tif", truth)
    store = CatalogStore(tmp / "catalog.json")
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(map_path) as src:
        bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    store.put_city(City(id="town", name="Town", provenance="synthetic"))
    store.put_layer("town", Layer(id="mcae", kind=LayerKind.mcae, title="Map", path=str(map_path),
                                  scheme="mcae", bounds=bounds, provenance="synthetic"))
    return store.path, ref_path


@pytest.fixture(scope="module")
def env(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Env:
    tmp = tmp_path_factory.mktemp("assess")
    catalog, reference = _catalog(tmp)
    return Env(tmp, db_url, catalog, reference, seed_users(db_url))


@pytest.fixture(scope="module")
def client(env: Env) -> Iterator[TestClient]:
    from mcae.platform.app import create_app

    settings = make_settings(env.tmp, env.url)
    settings.tiles.catalog_path = env.catalog
    with TestClient(create_app(settings)) as c:
        yield c


def _h(env: Env, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.tokens[user]}"}


def _wait(client: TestClient, env: Env, link: str) -> dict:  # type: ignore[type-arg]
    import time

    for _ in range(600):
        job = client.get(link, headers=_h(env, "rita")).json()
        if job["state"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"{link} did not finish")


def test_cli_design_label_report(env: Env) -> None:
    out = env.tmp / "design"
    args = ["--catalog", env.catalog, "--database", env.url]
    code, text = mcae("assess", "design", "--city", "town", "--layer", "mcae", "--points", "150",
                      "--min-per-class", "20", "--seed", "5", "--out", out, *args)
    assert code == 0, text
    sample = int(text.split("sample ")[1].split(":")[0])
    rows = list(csv.DictReader((out / "sample.csv").open()))
    assert list(rows[0]) == ["id", "lon", "lat", "stratum", "map_class"] and len(rows) == 150
    design = json.loads((out / "design.json").read_text())
    assert design["seed"] == 5 and design["map_version"] and set(design["strata"]) == {"1", "2", "3", "4", "5"}
    assert all(s["area_m2"] > 0.99 * 0.36 * s["pixels"] for s in design["strata"].values())
    # the same seed on the same map version: the same sample
    code, text = mcae("assess", "design", "--city", "town", "--layer", "mcae", "--points", "150",
                      "--min-per-class", "20", "--seed", "5", "--out", env.tmp / "again", *args)
    assert code == 0 and (env.tmp / "again" / "sample.csv").read_text() == (out / "sample.csv").read_text()

    code, text = mcae("assess", "label", "--sample", str(sample), "--reference", env.reference, *args)
    assert code == 0 and "150 points labelled" in text and "tests and benchmarks only" in text
    code, text = mcae("assess", "report", "--sample", str(sample), "--out", env.tmp / "report", *args)
    assert code == 0 and "SIMULATED" in text, text
    report = json.loads((env.tmp / "report" / "report.json").read_text())
    assert report["n"] == 150 and report["cant_tell"] == 0 and report["version"] == design["map_version"]
    assert 0.5 < report["overall_accuracy"]["estimate"] < 1 and report["overall_accuracy"]["ci95"] > 0
    assert set(report["area_m2"]["1"]) == {"map", "estimate", "ci95"}
    for name in ("report.csv", "error_matrix.png", "class_areas.png"):
        assert (env.tmp / "report" / name).stat().st_size > 100

    # a sample labelled elsewhere, imported with its design stated
    with (env.tmp / "labelled.csv").open("w") as fh:
        fh.write("id,lon,lat,stratum,map_class,reference\n")
        for r in rows[:40]:
            fh.write(f"{r['id']},{r['lon']},{r['lat']},{r['stratum']},{r['map_class']},{r['stratum']}\n")
        fh.write(f"41,{rows[40]['lon']},{rows[40]['lat']},{rows[40]['stratum']},{rows[40]['stratum']},cant_tell\n")
    code, text = mcae("assess", "import", "--city", "town", "--layer", "mcae", "--design", out / "design.json",
                      "--points", env.tmp / "labelled.csv", *args)
    assert code == 0 and "41 points imported, 41 labelled" in text, text
    imported = int(text.split("sample ")[1].split(":")[0])
    code, text = mcae("assess", "report", "--sample", str(imported), *args)
    assert code == 0 and "OA 100.0 %" in text and "1 can't tell" in text, text

    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(r["lon"]), float(r["lat"])]},
                 "properties": {"id": r["id"], "stratum": int(r["stratum"]), "reference": int(r["stratum"])}}
                for r in rows[:5]]
    (env.tmp / "labelled.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    code, text = mcae("assess", "import", "--city", "town", "--layer", "mcae", "--design", out / "design.json",
                      "--points", env.tmp / "labelled.geojson", *args)
    assert code == 0 and "5 points imported, 5 labelled" in text, text
    (env.tmp / "bad.csv").write_text("id,lon,lat\n1,2,3\n")
    code, text = mcae("assess", "import", "--city", "town", "--layer", "mcae", "--design", out / "design.json",
                      "--points", env.tmp / "bad.csv", *args)
    assert code == 2 and "stratum" in text and str(env.tmp) not in text

    code, text = mcae("assess", "design", "--city", "town", "--layer", "mcae", "--seed", "1", *args)
    assert code == 2 and "--points" in text
    code, text = mcae("assess", "report", "--sample", "9999", *args)
    assert code != 0 and "9999" in text


def test_api_blind_labels_second_expert_undo(env: Env, client: TestClient) -> None:
    r = client.post("/api/assessments", headers=_h(env, "alice"), json={"city": "town", "layer": "mcae", "seed": 9,
                                                                        "points": 30, "min_per_class": 5})
    assert r.status_code == 403  # drawing a sample is a reviewer's
    design = {"city": "town", "layer": "mcae", "seed": 9, "points": 30, "min_per_class": 5, "second_share": 0.5}
    r = client.post("/api/assessments", headers=_h(env, "rita"), json=design)
    assert r.status_code == 202, r.text  # a job: drawing reads the whole map
    job = _wait(client, env, r.headers["Location"])
    assert job["state"] == "done", job
    sid = job["result"]["sample"]
    base = f"/api/assessments/{sid}"
    assert client.get("/api/cities/town/layers/mcae/assessment").json()["version"] == job["result"]["map_version"]
    # the same design on the same version: the same job, the same sample
    assert client.post("/api/assessments", headers=_h(env, "rita"), json=design).json()["id"] == job["id"]
    bad = client.post("/api/assessments", headers=_h(env, "rita"), json={**design, "layer": "nope"})
    assert bad.status_code == 404
    bad = client.post("/api/assessments", headers=_h(env, "rita"), json={**design, "expected_ua": {"1": 3}})
    assert bad.status_code == 422
    too_many = client.post("/api/assessments", headers=_h(env, "rita"), json={**design, "points": 20_000, "seed": 1,
                                                                               "min_per_class": 5000})
    assert _wait(client, env, too_many.headers["Location"])["state"] == "done"  # capped at the map's pixels

    nxt = client.post(f"{base}/next", headers=_h(env, "alice")).json()["point"]
    assert nxt["map_class"] is None and nxt["pass_no"] == 1 and "stratum" not in nxt  # blind
    seq, version = nxt["seq"], nxt["version"]
    assert client.get(f"{base}/points/{seq}", headers=_h(env, "alice")).json()["map_class"] is None
    # a label on a stale version changes nothing
    stale = client.post(f"{base}/points/{seq}/labels", headers=_h(env, "alice"),
                        json={"class_id": 2, "version": version + 5})
    assert stale.status_code == 409 and "changed since" in stale.json()["detail"]
    saved = client.post(f"{base}/points/{seq}/labels", headers=_h(env, "alice"),
                        json={"class_id": 2, "version": version, "comment": "roof"})
    assert saved.status_code == 201, saved.text
    body = saved.json()
    assert body["point"]["map_class"] is not None and body["label"]["class_id"] == 2  # revealed once labelled
    # never overwritten: a second first-pass label is refused; bob still does not see the map class
    again = client.post(f"{base}/points/{seq}/labels", headers=_h(env, "bob"),
                        json={"class_id": 3, "version": body["point"]["version"]})
    assert again.status_code == 409
    assert client.get(f"{base}/points/{seq}", headers=_h(env, "bob")).json()["map_class"] is None
    # undo, then can't tell
    undo = client.post(f"{base}/labels/{body['label']['id']}/undo", headers=_h(env, "alice"))
    assert undo.status_code == 200 and undo.json()["label"]["state"] == "undone"
    assert client.post(f"{base}/labels/{body['label']['id']}/undo", headers=_h(env, "alice")).status_code == 409
    point = client.get(f"{base}/points/{seq}", headers=_h(env, "alice")).json()
    assert point["map_class"] is None
    ct = client.post(f"{base}/points/{seq}/labels", headers=_h(env, "alice"),
                     json={"cant_tell": True, "version": point["version"]})
    assert ct.status_code == 201 and ct.json()["label"]["cant_tell"] is True
    assert client.post(f"{base}/points/{seq}/labels", headers=_h(env, "alice"),
                       json={"class_id": 1, "cant_tell": True, "version": 0}).status_code in (409, 422)

    # alice labels the rest with the map's... her own calls; bob gets the second-expert points
    while True:
        p = client.post(f"{base}/next", headers=_h(env, "alice")).json()["point"]
        if p is None:
            break
        if p["pass_no"] == 2:
            break
        r = client.post(f"{base}/points/{p['seq']}/labels", headers=_h(env, "alice"),
                        json={"class_id": 1 + p["seq"] % 5, "version": p["version"]})
        assert r.status_code == 201, r.text
    second = client.post(f"{base}/next", headers=_h(env, "bob")).json()["point"]
    assert second["pass_no"] == 2 and second["map_class"] is None
    own = client.post(f"{base}/points/{second['seq']}/labels", headers=_h(env, "alice"),
                      json={"class_id": 1, "version": second["version"], "pass_no": 2})
    assert own.status_code == 409  # not one's own second opinion
    ok = client.post(f"{base}/points/{second['seq']}/labels", headers=_h(env, "bob"),
                     json={"class_id": 1 + second["seq"] % 5, "version": second["version"], "pass_no": 2})
    assert ok.status_code == 201, ok.text

    report = client.get(f"{base}/report", headers=_h(env, "vera")).json()
    assert report["n"] == 29 and report["cant_tell"] == 1 and report["agreement"]["pairs"] >= 1
    assert report["agreement"]["agreement"] == 1.0 and report["simulated"] is False
    info = client.get("/api/cities/town/layers/mcae/assessment").json()
    assert info["sample"] is not None and info["n"] >= 29

    used = client.post(f"{base}/points/{seq}/used-for-training", headers=_h(env, "alice"))
    assert used.status_code == 200 and used.json()["independent"] is False
    assert "new sample" in used.json()["dependent_reason"]
    assert client.get(f"{base}/report", headers=_h(env, "vera")).json()["sample"]["independent"] is False
    assert client.get("/api/assessments/424242", headers=_h(env, "vera")).status_code == 404
    assert client.get(f"{base}/report").status_code == 401


def test_every_assessment_route_needs_its_role(env: Env, client: TestClient) -> None:
    """No token: 401 everywhere; below the route's role: 403 (the public layer line needs none)."""
    doc = client.get("/openapi.json").json()
    routes = [(m, p) for p, ops in doc["paths"].items() if p.startswith("/api/assessments") for m in ops]
    assert len(routes) >= 9
    least = {("post", "/api/assessments"): "rita", ("get", "/api/assessments"): "vera",
             ("get", "/api/assessments/{sample}"): "vera", ("get", "/api/assessments/{sample}/report"): "vera"}
    for method, path in routes:
        url = path.format(sample=1, seq=1, label=999_999)  # no such label: 404 once past the role check
        assert client.request(method.upper(), url, json={}).status_code == 401, (method, path)
        need = least.get((method, path), "alice")
        below = {"rita": ["vera", "alice"], "alice": ["vera"], "vera": []}[need]
        for user in below:
            r = client.request(method.upper(), url, headers=_h(env, user), json={})
            assert r.status_code == 403, (method, path, user, r.status_code)
        r = client.request(method.upper(), url, headers=_h(env, need), json={})
        assert r.status_code not in (401, 403), (method, path, need, r.status_code)
    assert client.get("/api/cities/town/layers/mcae/assessment").status_code == 200
