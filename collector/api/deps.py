"""Dependencies shared by the routers: the running collector and its settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from collector.runtime import CollectorRuntime


def get_runtime(request: Request) -> CollectorRuntime:
    runtime: CollectorRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[CollectorRuntime, Depends(get_runtime)]
