"""The Prometheus backend: ``metric()`` samples, record counts and the pipeline's own health,
pushed to a Pushgateway (``_push``) and/or served for scraping."""

from hft.logging.backends.prometheus.backend import PrometheusBackend

__all__ = ["PrometheusBackend"]
