"""Class schemes (MCAE and SinoLC-1), their palettes and the crosswalk between them.

Every raster the engine writes uses the MCAE ids below; 0 is always "no data".
The values are those of ``../shared/CLASSES.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from mcae.inference.errors import NotFoundError

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class LandCoverClass:
    """One class of a scheme: raster id, display name and colour."""

    id: int
    name: str
    rgb: RGB

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


@dataclass(frozen=True)
class ClassScheme:
    """An ordered set of classes; id 0 (no data) is implicit and transparent."""

    name: str
    classes: tuple[LandCoverClass, ...]
    description: str = ""
    _by_id: dict[int, LandCoverClass] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id: c for c in self.classes})

    def __iter__(self) -> Iterator[LandCoverClass]:
        return iter(self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def ids(self) -> list[int]:
        return [c.id for c in self.classes]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def get(self, class_id: int) -> LandCoverClass:
        try:
            return self._by_id[class_id]
        except KeyError:
            raise NotFoundError(f"class id {class_id} is not in scheme {self.name!r}") from None

    def name_of(self, class_id: int) -> str:
        return "no data" if class_id == 0 else self.get(class_id).name

    def id_of(self, name: str) -> int:
        lowered = name.strip().lower()
        for c in self.classes:
            if c.name.lower() == lowered:
                return c.id
        raise NotFoundError(f"class {name!r} is not in scheme {self.name!r}; known: {self.names}")

    def colormap(self) -> dict[int, tuple[int, int, int, int]]:
        """A GDAL colour table (RGBA per id, 0 transparent), as rasterio writes it."""
        cmap = {i: (0, 0, 0, 0) for i in range(256)}
        for c in self.classes:
            cmap[c.id] = (*c.rgb, 255)
        return cmap

    def tags(self) -> dict[str, str]:
        """GeoTIFF metadata naming every class, so a map documents itself."""
        tags = {"CLASS_SCHEME": self.name, "CLASS_0": "no data"}
        tags.update({f"CLASS_{c.id}": c.name for c in self.classes})
        return tags


def _scheme(name: str, description: str, rows: list[tuple[int, str, RGB]]) -> ClassScheme:
    return ClassScheme(name, tuple(LandCoverClass(*row) for row in rows), description)


MCAE = _scheme(
    "mcae",
    "MCAE land cover: OpenEarthMap ids 1-8 and colours, 9 Others",
    [
        (1, "Bareland", (128, 0, 0)),
        (2, "Rangeland", (0, 255, 36)),
        (3, "Developed", (148, 148, 148)),
        (4, "Road", (255, 255, 255)),
        (5, "Tree", (34, 97, 38)),
        (6, "Water", (0, 69, 255)),
        (7, "Agriculture", (75, 181, 73)),
        (8, "Building", (222, 31, 7)),
        (9, "Others", (50, 50, 50)),
    ],
)

SINOLC1 = _scheme(
    "sinolc1",
    "SinoLC-1 (Li et al. 2023), 11 classes, legend order of the published viewer",
    [
        (1, "Traffic route", (250, 0, 0)),
        (2, "Tree cover", (0, 100, 0)),
        (3, "Shrubland", (255, 190, 35)),
        (4, "Grassland", (233, 255, 190)),
        (5, "Cropland", (255, 235, 175)),
        (6, "Building", (250, 170, 0)),
        (7, "Barren and sparse vegetation", (180, 180, 180)),
        (8, "Snow and ice", (240, 240, 240)),
        (9, "Water", (0, 100, 200)),
        (10, "Wetland", (0, 150, 160)),
        (11, "Moss and lichen", (250, 230, 160)),
    ],
)

N_CLASSES = len(MCAE)  # 9: the classifier's output size

# Level A: SinoLC-1 value -> MCAE id.
SINOLC1_TO_MCAE: dict[int, int] = {1: 4, 2: 5, 3: 2, 4: 2, 5: 7, 6: 8, 7: 1, 8: 9, 9: 6, 10: 6, 11: 2}

# Level B: six harmonised classes.
HARMONISED: tuple[str, ...] = ("Built", "Tree", "Low vegetation", "Agriculture", "Water", "Bare")
MCAE_TO_HARMONISED: dict[int, int] = {3: 1, 4: 1, 8: 1, 5: 2, 2: 3, 7: 4, 6: 5, 1: 6}
SINOLC1_TO_HARMONISED: dict[int, int] = {1: 1, 6: 1, 2: 2, 3: 2, 4: 3, 10: 3, 11: 3, 5: 4, 9: 5, 7: 6}

_HARMONISED_RGB: tuple[RGB, ...] = (
    (90, 90, 90), (34, 97, 38), (140, 210, 80), (240, 210, 60), (0, 90, 230), (160, 110, 60))
_DISAGREE_RGB: tuple[RGB, ...] = (
    (215, 25, 28), (255, 127, 0), (255, 100, 200), (170, 0, 120), (120, 40, 200), (120, 0, 0))

HARMONISED_SCHEME = _scheme(
    "harmonised", "The six harmonised classes shared by MCAE and SinoLC-1 (Level B)",
    [(i + 1, name, rgb) for i, (name, rgb) in enumerate(zip(HARMONISED, _HARMONISED_RGB, strict=False))])

# The agreement map of MCAE against SinoLC-1: 1-6 both agree on a harmonised class
# (its colour), 7-12 they disagree (warm colours, by MCAE's harmonised class), 13 a pixel
# with data on both sides but an excluded class (MCAE Others, SinoLC-1 Snow and ice).
AGREE_BASE, DISAGREE_BASE, NOT_COMPARED = 0, 6, 13
AGREEMENT = _scheme(
    "agreement",
    "MCAE vs SinoLC-1 on the harmonised classes: agree (by class), disagree (by MCAE's class)",
    [(AGREE_BASE + i + 1, f"Agree: {name}", _HARMONISED_RGB[i]) for i, name in enumerate(HARMONISED)]
    + [(DISAGREE_BASE + i + 1, f"Disagree: MCAE {name}", _DISAGREE_RGB[i])
       for i, name in enumerate(HARMONISED)]
    + [(NOT_COMPARED, "Not compared (excluded class)", (210, 210, 210))],
)

SCHEMES: dict[str, ClassScheme] = {s.name: s for s in (MCAE, SINOLC1, HARMONISED_SCHEME, AGREEMENT)}


def get_scheme(name: str) -> ClassScheme:
    """Look a scheme up by name (``mcae``, ``sinolc1``, ``harmonised`` or ``agreement``)."""
    try:
        return SCHEMES[name.lower()]
    except KeyError:
        raise NotFoundError(f"unknown class scheme {name!r}; known: {sorted(SCHEMES)}") from None
