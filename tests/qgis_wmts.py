"""Run by Debian's python3 with python3-qgis (not the project's venv): add layers to headless
QGIS by their WMTS capabilities URL, render 512 px around each layer's centre and report,
as JSON on stdout, validity, CRS, extent and the colours drawn.

    python3 tests/qgis_wmts.py CAPABILITIES_URL LAYER_ID [LAYER_ID ...]
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage

Z18_RES = 0.5971642834779395  # metres per pixel of WebMercatorQuad at zoom 18


def render(layer: QgsRasterLayer, size: int = 512) -> QImage:
    centre = layer.extent().center()
    half = size / 2 * Z18_RES
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(QgsRectangle(centre.x() - half, centre.y() - half, centre.x() + half, centre.y() + half))
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage().convertToFormat(QImage.Format_RGBA8888)


def main() -> None:
    caps, layer_ids = sys.argv[1], sys.argv[2:]
    app = QgsApplication([], False)
    app.initQgis()
    out = {"qgis": app.applicationVersion() if hasattr(app, "applicationVersion") else "", "layers": {}}
    for layer_id in layer_ids:
        uri = (f"contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&format=image/png&layers={layer_id}"
               f"&styles=default&tileMatrixSet=WebMercatorQuad&url={caps}")
        layer = QgsRasterLayer(uri, layer_id, "wms")
        entry = {"valid": layer.isValid(), "crs": layer.crs().authid(),
                 "error": "" if layer.isValid() else layer.error().summary()}
        if layer.isValid():
            ext = layer.extent()
            entry["extent"] = [ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum()]
            image = render(layer)
            colours: dict[str, int] = {}
            for y in range(0, image.height(), 2):
                for x in range(0, image.width(), 2):
                    c = image.pixelColor(x, y)
                    if c.alpha() > 0:
                        key = f"{c.red()},{c.green()},{c.blue()}"
                        colours[key] = colours.get(key, 0) + 1
            entry["colours"] = colours
        out["layers"][layer_id] = entry
    print(json.dumps(out))
    app.exitQgis()


if __name__ == "__main__":
    main()
