"""bot/settings.py: environment parsing with named errors; secrets hidden from reprs."""

import pytest

from bot.settings import bot_settings_from_env
from index.errors import ConfigError

TOKEN = "987654:SECRET-token-value"


def test_settings_from_environment():
    settings = bot_settings_from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_USER_IDS": "1, 2;3",
                                      "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/", "INDEX_DIR": "/x/index",
                                      "WEBHOOK_SECRET": "s3cr3t-value-long", "QUESTIONS_PER_MINUTE": "4"})
    assert settings.admin_user_ids == {1, 2, 3}
    assert settings.bot_api_url == "http://127.0.0.1:8081/bot"
    assert settings.file_api_url == "http://127.0.0.1:8081/file/bot"
    assert str(settings.state_db) == "/x/bot.sqlite"
    assert settings.questions_per_minute == 4
    assert settings.messages_per_second == 30  # Telegram's flood limit unless told otherwise
    assert bot_settings_from_env({"TELEGRAM_MESSAGES_PER_SECOND": "0"}).messages_per_second == 0
    assert settings.token.value == TOKEN
    for text in (repr(settings), str(settings.token), f"{settings}"):
        assert TOKEN not in text and "s3cr3t-value-long" not in text


@pytest.mark.parametrize("env, key", [({"ADMIN_USER_IDS": "alice"}, "ADMIN_USER_IDS"),
                                      ({"ADMIN_USER_IDS": "1_2_3"}, "ADMIN_USER_IDS"),
                                      ({"ALLOWED_CHAT_IDS": "１２３"}, "ALLOWED_CHAT_IDS"),
                                      ({"QUESTIONS_PER_MINUTE": "0"}, "QUESTIONS_PER_MINUTE"),
                                      ({"TELEGRAM_MESSAGES_PER_SECOND": "-1"}, "TELEGRAM_MESSAGES_PER_SECOND"),
                                      ({"TELEGRAM_MESSAGES_PER_SECOND": "3_0"}, "TELEGRAM_MESSAGES_PER_SECOND"),
                                      ({"QUESTIONS_PER_MINUTE": "٣٠"}, "QUESTIONS_PER_MINUTE"),
                                      ({"TELEGRAM_API_BASE_URL": "ftp://x"}, "TELEGRAM_API_BASE_URL"),
                                      ({"WEBHOOK_URL": "http://x/hook"}, "WEBHOOK_URL")])
def test_a_bad_value_names_its_key(env, key):
    with pytest.raises(ConfigError, match=key):
        bot_settings_from_env(env)
