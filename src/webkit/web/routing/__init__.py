"""Routing: resources, routes, the dispatcher and route definitions."""
