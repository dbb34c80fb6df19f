"""The GraphQL API: the starlette app, the schema assembly, and one subpackage per domain.

`ledger`, `loans`, `identity` and `schedules` each hold their types and resolvers and export their
own Query and Mutation; `schema` merges them into the root types. `core` holds what they share
(scalars and ids, typed errors, permissions, inputs, idempotency, threads, DataLoaders).

Entry points stay thin: parse the input, authorise, call a domain service in a worker thread, map
the result (or the typed domain error) to a GraphQL type. `graphql_api.schema.schema` is the schema;
`graphql_api.app.create_app` builds the ASGI app from an engine the composition root hands in.
"""
