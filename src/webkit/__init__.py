"""webkit: an asyncio web framework with aiohttp.web's API and a development server.

`from webkit import web` gives the framework; `webkit` on the command line gives the tools.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
