"""GraphQL over HTTP conventions: refused requests answer JSON errors with 4xx, / leads to /graphql,
and GraphiQL's page and assets come from this server, never a CDN."""
from __future__ import annotations

import re

import pytest

from graphql_api import graphiql


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b'{"query": "{ me { role } ', "application/json", 400, "BAD_REQUEST"),
    (b"query=%7B%20me%20%7D", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
])
def test_a_malformed_or_mistyped_body_gets_a_json_graphql_error(sqlite_api_server, body, content_type, status, code):
    response = sqlite_api_server.client.post(f"{sqlite_api_server.base_url}/graphql", content=body,
                                             headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code and "Content-Type: application/json" in error["message"]


def test_the_root_leads_to_graphql(sqlite_api_server):
    response = sqlite_api_server.client.get(f"{sqlite_api_server.base_url}/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/graphql"


def test_graphiql_loads_only_assets_this_server_serves(sqlite_api_server):
    if not graphiql.assets_present():
        pytest.skip("GraphiQL's assets are not installed (make install needs npm)")
    client, base = sqlite_api_server.client, sqlite_api_server.base_url
    page = client.get(f"{base}/graphql", headers={"Accept": "text/html"}).text
    sources = re.findall(r"""(?:src|href)='([^']+)'""", page)
    assert sources and all(source.startswith("/graphiql/") for source in sources), sources
    assert "http://" not in page and "https://" not in page
    assert "Authorization" in page and "me { tenant { slug } role actorName }" in page
    for source in sources:
        asset = client.get(f"{base}{source}")
        assert asset.status_code == 200 and len(asset.content) > 1000, source
    assert client.get(f"{base}/graphiql/../../etc/passwd").status_code == 404
