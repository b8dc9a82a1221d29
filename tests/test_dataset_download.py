"""The dataset export of a project downloaded as a streamed zip, by the roles a setting names."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from annotation_fixtures import copy_project, make_settings, seed_database
from fastapi.testclient import TestClient

from mcae.platform.annotation.routes_dataset import CHUNK, DATASET_DIR, stream_zip
from mcae.platform.app import create_app
from mcae.platform.settings import DownloadSettings

URL = "/api/projects/demo/dataset.zip"


@dataclass
class Setup:
    client: TestClient
    tokens: dict[str, str]
    root: Path
    tmp: Path
    url: str

    def get(self, user: str | None, url: str = URL):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return self.client.get(url, headers=headers)


@pytest.fixture(scope="module")
def setup(template_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("dataset")
    root = copy_project(template_project, tmp / "city")
    url = f"sqlite:///{tmp / 'annotation.db'}"
    tokens = seed_database(url, root)
    with TestClient(create_app(make_settings(tmp, url))) as client:
        yield Setup(client, tokens, root, tmp, url)


def write_export(root: Path) -> dict[str, bytes]:
    """A small export as `mcae export-dataset` lays it out (the pairs' bytes need not be TIFFs here)."""
    folder = root / DATASET_DIR
    files = {"images/0-0.tif": b"I" * 3000, "labels_dense/0-0.tif": b"D" * 100, "labels_sparse/0-0.tif": b"S" * 90,
             "images/0-1.tif": b"J" * 2000, "labels_sparse/0-1.tif": b"T" * 80}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    manifest = {"format": "mcae-dataset", "version": 1, "source_image": "/srv/secret/images/scene.tif",
                "items": [{"id": "0-0", "image": "images/0-0.tif", "label_dense": "labels_dense/0-0.tif",
                           "label_sparse": "labels_sparse/0-0.tif"},
                          {"id": "0-1", "image": "images/0-1.tif", "label_sparse": "labels_sparse/0-1.tif"}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "footprints.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    return files


def test_no_export_yet_is_a_clear_404_and_unknown_projects_too(setup: Setup) -> None:
    answer = setup.get("rita")
    assert answer.status_code == 404 and "export-dataset" in answer.json()["detail"]
    assert str(setup.root) not in answer.text
    assert setup.get("rita", "/api/projects/nope/dataset.zip").status_code == 404


def test_roles_reviewer_gets_a_valid_zip_annotator_is_refused(setup: Setup) -> None:
    files = write_export(setup.root)
    assert setup.get(None).status_code == 401
    for user in ("alice", "vera"):  # annotator, viewer
        refused = setup.get(user)
        assert refused.status_code == 403 and "reviewer" in refused.json()["detail"]
    for user in ("rita", "admin"):
        answer = setup.get(user)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
        assert "demo-dataset.zip" in answer.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
            assert bundle.testzip() is None
            assert set(bundle.namelist()) == {*files, "manifest.json", "footprints.geojson"}
            for name, data in files.items():
                assert bundle.read(name) == data
            manifest = json.loads(bundle.read("manifest.json"))
        assert manifest["source_image"] == "scene.tif" and "/srv" not in json.dumps(manifest)


def test_the_roles_are_a_setting(setup: Setup) -> None:
    write_export(setup.root)
    settings = make_settings(setup.tmp, setup.url)
    settings.downloads = DownloadSettings(dataset_roles=["annotator"])
    with TestClient(create_app(settings)) as client:
        ask = {user: client.get(URL, headers={"Authorization": f"Bearer {setup.tokens[user]}"}).status_code
               for user in ("alice", "rita", "admin")}
    assert ask == {"alice": 200, "rita": 403, "admin": 403}


def test_an_incomplete_export_is_409(setup: Setup) -> None:
    write_export(setup.root)
    (setup.root / DATASET_DIR / "labels_sparse" / "0-1.tif").unlink()
    answer = setup.get("rita")
    assert answer.status_code == 409 and "incomplete" in answer.json()["detail"]
    write_export(setup.root)


def test_the_zip_is_streamed_in_bounded_chunks(tmp_path: Path) -> None:
    big = tmp_path / "big.tif"
    big.write_bytes(bytes(range(256)) * (5 * CHUNK // 256))  # 5 MiB
    chunks = list(stream_zip(b"{}", [("images/0-0.tif", big)]))
    assert len(chunks) >= 5 and max(len(c) for c in chunks) <= CHUNK + 4096
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as bundle:
        assert bundle.read("images/0-0.tif") == big.read_bytes()
