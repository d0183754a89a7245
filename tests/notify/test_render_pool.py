"""The render workers' hard deadline, with real worker processes. Inside a worker SIGPROF
stops a render at its budget of CPU time, even inside CPython's big-integer power; the event loop's
own deadline is the backstop for a worker that does not answer (a render stuck where
signals are not looked at): its workers are killed and the next render gets a fresh pool.
The test makes that deadline fall before the budget, so the backstop is what answers."""

from __future__ import annotations

import pytest

from cashback_services.notify.adapters import render_pool
from cashback_services.notify.adapters.render_pool import TemplateRenderer
from cashback_services.notify.domain.rendering import Rendered, RenderJob, sample_context

NESTED_LOOPS = "{% for i in range(400) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
BIG_POWER = "{{ ((((9 ** 64) ** 64) ** 64) ** 64) ** 64 }}"  # each ** passes the exponent cap


async def test_a_worker_that_does_not_answer_by_the_deadline_is_killed_and_the_pool_replaced(monkeypatch):
    renderer = TemplateRenderer(budget=0.5)
    ctx = sample_context("credited", "en")
    try:
        renderer.start()
        await renderer.render_all([RenderJob("sms", ctx, "warm", "")])
        workers = list(renderer._pool._processes.values())  # type: ignore[union-attr]
        monkeypatch.setattr(render_pool, "GRACE", -0.4)  # the deadline: 0.1 s, before the worker's own alarm
        stuck = await renderer.render_all([RenderJob("sms", ctx, NESTED_LOOPS, "")])
        for proc in workers:
            proc.join(5)
        monkeypatch.setattr(render_pool, "GRACE", 2.0)
        after = await renderer.render_all([RenderJob("sms", ctx, "Hi {{ amount }}", "")])
    finally:
        renderer.close()
    assert stuck == ["the template took longer than 0.5 s to render"]
    assert all(proc.exitcode is not None for proc in workers)  # killed, not left running the loop
    assert isinstance(after[0], Rendered) and after[0].body.startswith("Hi ")


async def test_a_big_integer_power_is_stopped_by_the_budget_inside_the_worker():
    renderer = TemplateRenderer(budget=0.2)
    try:
        result = await renderer.render_all([RenderJob("sms", sample_context("credited", "en"), BIG_POWER, "")])
    finally:
        renderer.close()
    assert result == ["the template took longer than 0.2 s to render"]


async def test_a_closed_renderer_refuses_instead_of_starting_workers_again():
    renderer = TemplateRenderer()
    renderer.close()
    with pytest.raises(Exception, match="shutting down"):
        await renderer.render_all([RenderJob("sms", sample_context("credited", "en"), "x", "")])
