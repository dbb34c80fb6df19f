"""Print the SDL: `python -m graphql_api.print_schema > graphql_api/schema.graphql` (make sdl)."""
from graphql_api.schema import schema

if __name__ == "__main__":
    print(schema.as_str())
