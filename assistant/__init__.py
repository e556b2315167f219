"""roadmap-tutor's core library: settings, models, retrieval, accounting and practice."""

from assistant import offline as _offline

_offline.apply()
