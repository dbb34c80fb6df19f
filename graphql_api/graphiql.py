"""GraphiQL served by loanbook itself: the page, and its JavaScript and CSS from the local install.

`make install` installs GraphiQL and React from the npm registry into `<venv>/share/graphiql`
(never into the repository); the page loads them from `/graphiql/<asset>` on this server, so it
works on a network without internet. Without the install the page says how to get it.
"""
from __future__ import annotations

import html
import json
import sys
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

# The npm packages `make install` puts under this prefix (see the Makefile's GRAPHIQL_PACKAGES).
default_assets_dir = Path(sys.prefix) / "share" / "graphiql" / "node_modules"
assets = {
    "react.js": "react/umd/react.production.min.js",
    "react-dom.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.js": "graphiql/graphiql.min.js",
    "graphiql.css": "graphiql/graphiql.min.css",
}
asset_max_age_seconds = 86_400

first_query = """# Welcome to loanbook. Every request needs a token: put it in the Headers tab below as
#   {"Authorization": "Bearer lb_..."}
# (`make serve` printed an admin token; `loanbook token create --tenant demo --role finance` makes more).
# Press the run button (or Ctrl-Enter). The Docs panel on the left lists every query and mutation.

{
  me { tenant { slug } role actorName }
  portfolio(asOf: "2030-01-01") { currency loans principal { amount } par30 }
  trialBalance { balanced }
}
"""
default_headers = '{"Authorization": "Bearer lb_paste_your_token_here"}'


def assets_present(directory: Path = default_assets_dir) -> bool:
    return all((directory / relative).is_file() for relative in assets.values())


def page(directory: Path = default_assets_dir) -> HTMLResponse:
    if not assets_present(directory):
        return HTMLResponse(
            "<!doctype html><meta charset='utf-8'><title>loanbook GraphiQL</title>"
            "<p>GraphiQL's assets are not installed. Run <code>make install</code> (it installs them from the npm "
            f"registry into <code>{html.escape(str(directory.parent))}</code>; it needs <code>npm</code>). The API "
            "itself works without them: POST JSON to this URL.</p>",
        )
    script = (
        "const fetcher = GraphiQL.createFetcher({ url: window.location.pathname });\n"
        "ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, {\n"
        f"  fetcher, defaultQuery: {json.dumps(first_query)}, defaultHeaders: {json.dumps(default_headers)},\n"
        "  defaultEditorToolsVisibility: 'headers', shouldPersistHeaders: true,\n"
        "}));\n"
    )
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>loanbook GraphiQL</title>"
        "<link rel='stylesheet' href='/graphiql/graphiql.css'>"
        "<style>body { margin: 0; } #graphiql { height: 100vh; }</style></head><body>"
        "<div id='graphiql'>Loading GraphiQL...</div>"
        "<script src='/graphiql/react.js'></script><script src='/graphiql/react-dom.js'></script>"
        f"<script src='/graphiql/graphiql.js'></script><script>{script}</script></body></html>"
    )
    return HTMLResponse(body)


def asset_endpoint(directory: Path = default_assets_dir):  # noqa: ANN201
    async def asset(request: Request) -> Response:
        relative = assets.get(request.path_params["name"])
        if relative is None or not (directory / relative).is_file():
            return JSONResponse({"error": "no such GraphiQL asset (run make install)"}, status_code=404)
        return FileResponse(directory / relative, headers={"Cache-Control": f"public, max-age={asset_max_age_seconds}"})

    return asset
