"""Parsed and validated documents are reused per query text, and the document limits hold every time."""
from __future__ import annotations

import asyncio

from graphql_api.core.documents import DocumentCache, validated_documents
from graphql_api.schema import schema

ME = "{ me { role } }"


def run(query: str) -> list[str]:
    """The error codes of executing `query` in-process without a context (no resolver gets that far)."""
    result = asyncio.run(schema.execute(query, context_value=None))
    return [(error.extensions or {}).get("code") for error in result.errors or []]


def test_a_valid_document_is_parsed_and_validated_once_then_reused():
    query = "query ReusedOnce { me { role actorName } }"
    assert validated_documents.get(query) is None
    run(query)  # the resolver fails (no context), after the document passed validation
    first = validated_documents.get(query)
    assert first is not None
    run(query)
    assert validated_documents.get(query) is first


def test_the_limits_refuse_a_repeated_hostile_document_every_time():
    deep = "{ journalEntries { edges { node { " + "reverses { " * 12 + "id" + " }" * 12 + " } } } }"
    aliases = "{ " + " ".join(f"a{i}: me {{ role }}" for i in range(31)) + " }"
    nul = '{ account(code: "1\\u0000") { code } }'
    tokens = "{ me { " + " ".join(["role"] * 3001) + " } }"
    for hostile in (deep, aliases, nul, tokens, "{ me { noSuchField } }"):
        for _ in range(3):
            assert run(hostile) == ["GRAPHQL_VALIDATION_FAILED"], hostile
        assert validated_documents.get(hostile) is None, "documents with errors are not kept"


def test_the_cache_keeps_the_most_recent_texts_and_skips_long_ones():
    cache = DocumentCache(entries_max=2, query_length_max=100)
    documents = {text: object() for text in ("a", "b", "c")}
    cache.put("a", documents["a"])
    cache.put("b", documents["b"])
    assert cache.get("a") is documents["a"]  # now the most recent
    cache.put("c", documents["c"])
    assert cache.get("b") is None and cache.get("a") is documents["a"] and cache.get("c") is documents["c"]
    cache.put("x" * 101, object())
    assert len(cache) == 2 and cache.get("x" * 101) is None
