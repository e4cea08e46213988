"""Importing this module warms the process that imports it: every stage's code and models load.

The standalone pool's fork server imports it once (`LocalHandoff(preload=...)`), so pool processes
forked from that server start with everything loaded instead of paying seconds each at start-up.
Importing it anywhere else costs the same seconds once, and does nothing more.
"""

from __future__ import annotations

from workers.article_limit import warm_up

warm_up()
