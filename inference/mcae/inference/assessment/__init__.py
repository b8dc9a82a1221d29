"""Map accuracy assessment by good practice (Olofsson et al. 2014, RSE 148: 42-57).

Three parts, one module each, pure numpy except where a raster is read:

- ``allocation``: how many sample points, and how many per stratum (map class);
- ``sampling``: a stratified random sample of pixels drawn from a classified raster,
  window by window in bounded memory, with strata sizes in pixels and in m² (equal area);
- ``estimators``: the stratified estimators of the error matrix in area proportions,
  overall / user's / producer's accuracy and class areas, each with its standard error;
- ``agreement``: agreement of two experts on the points both labelled;
- ``report``: the report (report.json shape of issue 16), its CSV and its figures.
"""
