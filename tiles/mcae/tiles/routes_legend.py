"""Legends: the named class schemes and the legend of each categorical layer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from mcae.tiles.catalog import Layer
from mcae.tiles.dependencies import IdParam, layer_dependency
from mcae.tiles.ids import UnknownId
from mcae.tiles.palettes import layer_legend, scheme_legend, scheme_names
from mcae.tiles.schemas import LayerLegendOut, LegendOut


def create_legend_router() -> APIRouter:
    router = APIRouter(tags=["Legends"])

    @router.get("/api/legends", summary="Every class scheme, with its classes")
    def legends() -> list[LegendOut]:
        return [LegendOut.model_validate(scheme_legend(name)) for name in scheme_names()]

    @router.get("/api/legends/{scheme}", summary="One class scheme: id, name, colour (hex, RGB) per class")
    def legend(scheme: Annotated[str, IdParam]) -> LegendOut:
        if scheme not in scheme_names():
            raise UnknownId("class scheme", scheme)
        return LegendOut.model_validate(scheme_legend(scheme))

    @router.get("/api/cities/{city}/layers/{layer}/legend", summary="The legend a layer renders with")
    def layer_legend_route(layer: Annotated[Layer, Depends(layer_dependency)]) -> LayerLegendOut:
        if not layer.categorical:
            raise HTTPException(404, f"layer {layer.id!r} is imagery and has no legend")
        try:
            legend = layer_legend(layer)
        except KeyError:
            raise HTTPException(404, f"layer {layer.id!r} has no legend (scheme {layer.scheme!r})") from None
        return LayerLegendOut.model_validate({"layer": layer.id, "title": layer.title, **legend})

    return router
