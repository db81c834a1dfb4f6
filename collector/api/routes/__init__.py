"""Routers of the collector API. Add a module here and append its router to ROUTERS."""

from fastapi import APIRouter

from collector.api.routes import bench, deadletters, health, kpis

ROUTERS: list[APIRouter] = [health.router, deadletters.router, bench.router, kpis.router]
