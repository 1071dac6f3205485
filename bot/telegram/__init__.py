"""The Telegram bot: handlers (bot), journaling and order (updates), answering (answers), sending
(delivery), admins' articles (admin), chats' libraries (libraries), digests (digest), the start-up
check (token) and the HTML of messages (formatting)."""
