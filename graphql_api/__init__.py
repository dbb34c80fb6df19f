"""The GraphQL API: strawberry types, resolvers, loaders, permissions and the starlette app.

Entry points stay thin: parse the input, authorise, call a domain service in a worker thread, map
the result (or the typed domain error) to a GraphQL type. `graphql_api.schema.schema` is the schema;
`graphql_api.app.create_app` builds the ASGI app from an engine the composition root hands in.
"""
