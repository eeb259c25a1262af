"""OpenTelemetry traces, on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its `_TRACES_` form) is set:
a span per HTTP request, per turn and per graph node, with the database statements and the
outgoing HTTP (Twilio, the LLM) under them, sent to that collector over OTLP/HTTP.

A customer's message is stored by one process and answered by another (a worker): the request
that stores it keeps its trace context on the row (`current()`), and the turn that answers it
links to that context (`span(..., link=...)`), so the two traces are one story in the collector.

Off, nothing of the SDK is loaded and `span()` is a context manager that does nothing. The
process's tracer is module state because instrumentation is: OpenTelemetry's instrumentations
patch libraries process-wide, once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import Any

_provider: Any = None  # the process's TracerProvider once `configure` has run
_tracer: Any = None


def enabled() -> bool:
    return _tracer is not None


def configure(
    process: str, endpoint: str | None, *, exporter: Any = None, ratio: float = 1.0
) -> bool:
    """Trace this process (named `process`: "api", "worker", ...) to the OTLP `endpoint`, or to
    `exporter` (tests), keeping `ratio` of the traces (unless OTEL_TRACES_SAMPLER names a
    sampler); True when tracing is on. Calling it again changes nothing."""
    global _provider, _tracer
    if _provider is not None:
        return True
    if exporter is None and not endpoint:
        return False
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", "hibachi"),
            "service.instance.id": f"{process}-{os.getpid()}",
            "hibachi.process": process,
        }
    )
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else _sampler(ratio)
    provider = TracerProvider(resource=resource, sampler=sampler)
    if exporter is None:
        # Reads the OTEL_EXPORTER_OTLP_* variables itself (endpoint, headers, timeout).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _provider, _tracer = provider, provider.get_tracer("hibachi")
    return True


def _sampler(ratio: float) -> Any:
    """Keeps `ratio` of the traces that start here, and all or nothing of a story: a span
    with a parent follows it, and a span that starts a trace continuing a stored context (a
    turn answering a message a request stored) is kept exactly when that request's was."""
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )
    from opentelemetry.trace import get_current_span

    by_ratio = ParentBased(TraceIdRatioBased(ratio))

    class FollowsLinks(Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: Any = None,
            attributes: Any = None,
            links: Any = None,
            trace_state: Any = None,
        ) -> Any:
            if links and not get_current_span(parent_context).get_span_context().is_valid:
                kept = any(link.context.trace_flags.sampled for link in links)
                if not kept:
                    return SamplingResult(Decision.DROP)
                # The span's attributes are the ones the sampler hands back.
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
            return by_ratio.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"FollowsLinks{{{by_ratio.get_description()}}}"  # type: ignore[no-untyped-call]

    return FollowsLinks()


def instrument_engine(engine: Any) -> None:
    """A client span for each statement of an async SQLAlchemy engine run under a kept trace,
    with the attribute names of OpenTelemetry's database conventions.

    Our own engine listeners rather than opentelemetry-instrumentation-sqlalchemy: that one
    parses every statement and opens a span for it whether or not the trace is kept, and wraps
    each checkout besides; with a tenth of the traces kept, under the soak's 50 messages/s, it
    cost the API about 1.6 ms of CPU per message (bench/soak.py --observe). Here a statement
    outside a kept trace costs one look at the current span."""
    if _tracer is None:
        return
    from sqlalchemy import event

    sync_engine = engine.sync_engine
    for name, listener in (
        ("before_cursor_execute", _statement_starts),
        ("after_cursor_execute", _statement_ends),
        ("handle_error", _statement_fails),
    ):
        if not event.contains(sync_engine, name, listener):
            event.listen(sync_engine, name, listener)


_STATEMENT_SPAN = "hibachi.trace.statement"  # the open span's key in the connection's info


def _statement_starts(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    if _tracer is None:
        return
    from opentelemetry import trace

    if not trace.get_current_span().is_recording():
        return
    words = statement.split(None, 1)
    operation = words[0].upper() if words else "SQL"
    url = conn.engine.url
    conn.info[_STATEMENT_SPAN] = _tracer.start_span(
        f"{operation} {url.database or ''}".strip(),
        kind=trace.SpanKind.CLIENT,
        attributes={
            "db.system": "postgresql",
            "db.name": url.database or "",
            "db.operation": operation,
            "db.statement": statement,
            "net.peer.name": url.host or "",
        },
    )


def _statement_ends(conn: Any, *args: Any) -> None:
    statement_span = conn.info.pop(_STATEMENT_SPAN, None)
    if statement_span is not None:
        statement_span.end()


def _statement_fails(context: Any) -> None:
    conn = context.connection
    statement_span = conn.info.pop(_STATEMENT_SPAN, None) if conn is not None else None
    if statement_span is not None:
        from opentelemetry.trace import Status, StatusCode

        statement_span.record_exception(context.original_exception)
        statement_span.set_status(Status(StatusCode.ERROR))
        statement_span.end()


def shutdown() -> None:
    """Send the spans still buffered (a stopping process)."""
    if _provider is not None:
        _provider.force_flush()


def reset() -> None:
    """Forget the configuration (tests that trace to an exporter of their own)."""
    global _provider, _tracer
    if _provider is not None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().uninstrument()
        _provider.shutdown()
    _provider = _tracer = None


@contextlib.contextmanager
def span(name: str, *, link: str | None = None, **attributes: Any) -> Iterator[Any]:
    """A span named `name` around the block (None when tracing is off), a child of the current
    one; `link` is a stored trace context (`current()`) this span continues from."""
    if _tracer is None:
        yield None
        return
    links = []
    if link:
        from opentelemetry import trace
        from opentelemetry.propagate import extract

        context = trace.get_current_span(extract({"traceparent": link})).get_span_context()
        if context.is_valid:
            links.append(trace.Link(context))
    with _tracer.start_as_current_span(
        name, links=links, attributes={f"hibachi.{k}": v for k, v in attributes.items()}
    ) as current_span:
        yield current_span


@contextlib.contextmanager
def server_span(method: str, headers: Iterable[tuple[bytes, bytes]]) -> Iterator[Any]:
    """A server span for an HTTP request (None when tracing is off), continuing the caller's
    trace when its headers carry one; named "METHOD" until the caller renames it by route."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name in (b"traceparent", b"tracestate")
    }
    with _tracer.start_as_current_span(
        method, context=extract(carrier) if carrier else None, kind=SpanKind.SERVER
    ) as current_span:
        yield current_span


def current() -> str | None:
    """The current trace context as a W3C `traceparent` (None when not tracing)."""
    if _tracer is None:
        return None
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


def stamped(meta: dict[str, Any]) -> dict[str, Any]:
    """A stored message's `meta` with the storing request's trace context under "trace" (the
    turn that answers it links to it, in whichever process runs it); as it is when off."""
    context = current()
    return meta if context is None else {**meta, "trace": context}


def trace_id() -> str | None:
    """The current trace's id in hex, for log lines (None outside a span)."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
