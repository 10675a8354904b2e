"""A commercetools API for benchmarks that streams the generated store (``bench/store.py``).

The npm emulator keeps every document in memory and filters them per query; at a million orders it
is the bottleneck being measured. This server answers the endpoints and predicates the pipeline
uses, generating each page on demand: ``POST /oauth/token``; ``GET /{pk}``; ``GET /{pk}/{resource}``
with ``sort=id asc``, ``limit`` (<= 500), and ``where`` clauses ``lastModifiedAt >= :windowStart and
lastModifiedAt < :windowEnd``, ``id > :lastId`` and ``id in :ids`` (anything else is refused with 400,
so an unsupported query is noticed, not silently answered); ``total`` unless ``withTotal=false``,
capped at 10,000 under a ``where`` as commercetools caps it. ``POST /__bench/change``
``{"share": 0.01, "at": "<ISO>"}`` changes that share of every resource, as a day's delta.

    .venv/bin/python bench/ctserver.py --orders 100000 --days 90 --port 0
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.store import Store, parse  # noqa: E402
from ct_ometria.commercetools.client import TOTAL_CAP  # noqa: E402
from ct_ometria.ometria.sandbox.server import serve_app  # noqa: E402

KINDS = {"customers": "customer", "orders": "order", "products": "product", "categories": "category"}
EMPTY = ("discount-codes", "payments", "custom-objects", "types", "carts", "messages", "customer-groups")
WINDOW = "lastModifiedAt >= :windowStart and lastModifiedAt < :windowEnd"


def _error(message: str, status: int = 400) -> Response:
    return JSONResponse({"statusCode": status, "message": message, "errors": [{"code": "InvalidInput", "message": message}]},
                        status_code=status)  # fmt: skip


def create_app(store: Store, project_key: str = "bench") -> Starlette:
    state = {"requests": 0}

    async def token(request: Request) -> Response:
        return JSONResponse({"access_token": "bench-token", "token_type": "Bearer", "expires_in": 172800,
                             "scope": f"manage_project:{project_key}"})  # fmt: skip

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == "Bearer bench-token"

    async def project(request: Request) -> Response:
        if not authorised(request):
            return _error("invalid_token", 401)
        return JSONResponse(store.project())

    async def query(request: Request) -> Response:
        if not authorised(request):
            return _error("invalid_token", 401)
        state["requests"] += 1
        resource = request.path_params["resource"]
        params = request.query_params
        limit = int(params.get("limit", "20"))
        if limit > 500:
            return _error("limit must be 0..500")
        if resource == "stores":
            return JSONResponse({"limit": limit, "offset": 0, "count": 0 if params.get("var.lastId") else 2,
                                 "results": [] if params.get("var.lastId") else store.stores()})  # fmt: skip
        if resource in EMPTY:
            return JSONResponse({"limit": limit, "offset": 0, "count": 0, "results": []})
        kind = KINDS.get(resource)
        if kind is None:
            return _error(f"unknown resource {resource}", 404)
        if params.get("sort", "id asc") != "id asc":
            return _error("only sort=id asc is served")
        indexes: list[int] | range | None = None
        last = -1
        for clause in params.getlist("where"):
            if clause == WINDOW:
                start, end = parse(params["var.windowStart"]), parse(params["var.windowEnd"])
                window = store.window(kind, start, end)
                if store.changed_at is not None:
                    kept = [i for i in window if not store.is_changed(i)]
                    moved = [i for i in store.changed(kind) if start <= store.changed_at < end]
                    window = sorted(set(kept) | set(moved))
                indexes = window
            elif clause == "id > :lastId":
                found = store.index_of(kind, params["var.lastId"])
                last = found if found is not None else -1
            elif clause == "id in :ids":
                indexes = sorted(i for i in (store.index_of(kind, x) for x in params.getlist("var.ids")) if i is not None)
            else:
                return _error(f"predicate not served by the benchmark server: {clause}")
        if indexes is None:
            indexes = range(store.counts[kind])
        page = []
        for index in _after(indexes, last):
            page.append(store.document(kind, index))
            if len(page) == limit:
                break
        answer = {"limit": limit, "offset": 0, "count": len(page), "results": page}
        if params.get("withTotal", "true") != "false":
            # As commercetools: with a `where`, the total is capped at 10,000.
            matching = _after(indexes, last)
            total = len(matching) if isinstance(matching, range) else sum(1 for _ in matching)
            answer["total"] = min(total, TOTAL_CAP) if params.getlist("where") else total
        body = json.dumps(answer, separators=(",", ":"))
        return Response(body, media_type="application/json")

    async def change(request: Request) -> Response:
        body = await request.json()
        store.changed_share = float(body.get("share", 0.01))
        store.changed_at = dt.datetime.fromisoformat(body["at"].replace("Z", "+00:00")) if body.get("at") else None
        return JSONResponse({"changed": {kind: len(store.changed(kind)) for kind in KINDS.values()}})

    async def stats(request: Request) -> Response:
        return JSONResponse({"requests": state["requests"], "counts": store.counts, "records": store.records()})

    return Starlette(routes=[
        Route("/oauth/token", token, methods=["POST"]),
        Route("/__bench/change", change, methods=["POST"]),
        Route("/__bench/stats", stats, methods=["GET"]),
        Route(f"/{project_key}", project, methods=["GET"]),
        Route(f"/{project_key}/{{resource}}", query, methods=["GET"]),
    ])  # fmt: skip


def _after(indexes: list[int] | range, last: int):
    if isinstance(indexes, range):
        return range(max(indexes.start, last + 1), indexes.stop)
    return (i for i in indexes if i > last)


def main() -> None:
    parser = argparse.ArgumentParser(description="a streaming commercetools API over a generated store")
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    serve_app(create_app(Store(args.orders, args.days)), "bench commercetools", "127.0.0.1", args.port, log_level="warning")


if __name__ == "__main__":
    main()
