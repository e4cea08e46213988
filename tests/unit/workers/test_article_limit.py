"""The per-article time limit: a page over it is an ArticleTimeout value, so its batch goes on."""

from __future__ import annotations

import pytest

from workers.article_limit import ArticleTimeout, time_limit


def test_work_past_the_limit_raises_article_timeout_naming_the_url() -> None:
    with pytest.raises(ArticleTimeout, match="per-article time limit: https://harbour.example/slow"):
        with time_limit(0.05, "https://harbour.example/slow"):
            while True:
                pass


def test_work_within_the_limit_is_left_alone_and_the_timer_disarmed() -> None:
    with time_limit(5, "https://harbour.example/quick"):
        total = sum(range(1000))
    assert total == 499500
