"""A real SMTP server for the alert tests (aiosmtpd): listens on a free
loopback port, prints {"port": N} once, then one JSON line per message
received: {"from", "to", "subject", "body"}."""

import asyncio
import email
import email.policy
import json
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        line = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "body": body.get_content() if body else "",
        }
        print(json.dumps(line), flush=True)
        return "250 OK"


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink()), "127.0.0.1", 0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    # Until the test closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
