"""Parse and validate each query text once: a bounded cache of documents that passed validation.

Clients send the same few documents over and over (the loan-detail query differs only in its
variables). Parsing and validating such a document was about 40 % of a request's CPU, and the
answer cannot change while the process runs: the schema and the rules (including the depth, alias,
token and NUL limits) are fixed at import. So the first request with a text parses and validates it
as usual, and later requests with the same text reuse the checked document.

Why strawberry's ParserCache and ValidationCache did not help here: ValidationCache keys on
(schema, document, rules), and the QueryDepthLimiter and MaxAliasesLimiter extensions, built per
request, create new rule classes each time, so the key never repeated; the document is a frozen
dataclass whose hash walks the whole tree on every lookup.

Only documents without errors are kept: an invalid document is parsed and validated again on every
request (and is refused every time, with the same errors). Long texts are not kept, so the cache's
memory stays bounded whatever clients send.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

documents_cached_max = 512
# The loan-detail query is ~0.8 KB; a generous limit keeps hand-written queries cacheable, 512 x 16 KB at most.
cached_query_length_max = 16 * 1024


class DocumentCache:
    """Least recently used query texts and their parsed, validated documents."""

    def __init__(self, entries_max: int = documents_cached_max, query_length_max: int = cached_query_length_max) -> None:
        self.entries_max = entries_max
        self.query_length_max = query_length_max
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()

    def get(self, query: str | None) -> DocumentNode | None:
        if query is None:
            return None
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
        return document

    def put(self, query: str | None, document: DocumentNode) -> None:
        if query is None or len(query) > self.query_length_max:
            return
        self._documents[query] = document
        self._documents.move_to_end(query)
        while len(self._documents) > self.entries_max:
            self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)


# One per process: the schema it serves is one per process too (built at import in graphql_api.schema).
validated_documents = DocumentCache()


class ReuseValidatedDocuments(SchemaExtension):
    """Skip parsing and validation for a query text that already passed them in this process."""

    _reused = False

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        document = validated_documents.get(context.query)
        if document is not None:
            # strawberry parses only when no document is set, and validates only while errors are None.
            context.graphql_document = document
            context.pre_execution_errors = []
            self._reused = True
        yield

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        if not self._reused and context.pre_execution_errors == [] and context.graphql_document is not None:
            validated_documents.put(context.query, context.graphql_document)
