"""Text for ``hft config show`` and ``hft config validate`` (the CLI itself lives elsewhere)."""

from __future__ import annotations

import json
import re
from typing import Any

from hft.config._loader import LoggingConfigManager
from hft.config._merge import iter_leaves

#: Values longer than this do not widen the value column (their comment just moves right).
_MAX_VALUE_COLUMN = 40


def render_config_show(manager: LoggingConfigManager) -> str:
    """Effective settings as aligned ``dotted.key = value    # source`` lines, secrets masked.

    Lines follow the order of the settings files (base.yaml's order, then keys it lacks).
    """
    provenance = manager.provenance
    rows = [(path, _format(value)) for path, value in iter_leaves(manager.as_dict())]
    key_width = max(len(path) for path, _ in rows)
    value_width = min(max(len(text) for _, text in rows), _MAX_VALUE_COLUMN)
    return "\n".join(
        f"{path:<{key_width}} = {text:<{value_width}}    # {provenance[path]}"
        for path, text in rows
    )


def describe_sources(manager: LoggingConfigManager) -> str:
    """``environment 'prod' (settings/base.yaml + settings/prod.yaml + 2 variables)``.

    ``hft config validate`` prints it after ``OK: `` once the manager has loaded.
    """
    count = len(manager.variables)
    files = " + ".join(layer.name for layer in manager.layers[:-1])
    noun = "variable" if count == 1 else "variables"
    return f"environment {manager.environment!r} ({files} + {count} {noun})"


def _format(value: Any) -> str:
    """Plain text for non-empty strings, JSON for the rest (``true``, ``null``, ``[...]``).

    A password inside a URL (``https://user:password@host``) is masked like a secret.
    """
    if isinstance(value, str) and value:
        return _URL_PASSWORD.sub(r"\1**********@", value)
    return json.dumps(value)


_URL_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^/@\s]+@")
