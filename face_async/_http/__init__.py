"""The request path: sans-I/O core (operations, paths, the decision), retry policy, the gate,
endpoint and credential, and the aiohttp transport (a thin adapter)."""
