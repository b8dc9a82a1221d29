"""Run by Debian's python3 with QGIS: print the legend labels QGIS gives a raster layer.

Usage: python3 qgis_legend.py RASTER  -> prints the labels of its legend joined by '|'.
"""

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsRasterLayer

app = QgsApplication([], False)
app.initQgis()
layer = QgsRasterLayer(sys.argv[1], "map")  # loads the .qml beside the file as its default style
if not layer.isValid():
    sys.exit(f"QGIS could not open {sys.argv[1]}")
labels = [label for label, _colour in layer.renderer().legendSymbologyItems()]
print("|".join(labels), flush=True)
os._exit(0)  # QGIS 3.22 can crash while tearing down offscreen; the answer is out
