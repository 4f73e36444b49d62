"""The pipeline: from a logging call to the backends, inside the trading process.

A call site (:mod:`~hft.logging.pipeline.callsites`) appends a record to a ring, or copies a
plain one into the byte lane (:mod:`~hft.logging.pipeline.lanes`); both are held, with the
sequence numbers and the wake-up, by :mod:`~hft.logging.pipeline.rings`. The dispatcher thread
(:mod:`~hft.logging.pipeline.dispatcher`) takes the rings in slices, prepares them
(:mod:`~hft.logging.pipeline.prepare`: context, redaction) and routes them to each backend's
slot (:mod:`~hft.logging.pipeline.slots`: retries, failover, spill).
:mod:`~hft.logging.pipeline.pipeline` holds the life cycle: start, flush, close, fork and exit.
Drops, gates, counts and metrics each have a module of their own.
"""
