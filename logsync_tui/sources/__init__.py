"""Where entries come from: Redis directly, or the logging Worker over HTTP.

Every Redis command and HTTP call of logsync lives in this package.
"""

from __future__ import annotations
