#!/usr/bin/python3
"""chat.py -- an example program for wsd's exec app: a chat room.

wsd runs one copy per WebSocket; the copies share the room through a file
that each appends its client's lines to and follows for everyone's. A
client's name comes from the query string (ws://host/chat?name=ann), else
its address. Every line goes out with flush=True: a program's stdout must
be flushed per message (wsd also sets PYTHONUNBUFFERED=1).

    [route /chat]
    app = exec
    command = /usr/bin/python3 /usr/local/share/wsd/examples/chat.py
    env = CHAT_ROOM=/var/tmp/wsd-chat.log

The room file grows with every line: a demo, not a chat server.
"""

import fcntl
import os
import select
import sys
import urllib.parse

ROOM = os.environ.get("CHAT_ROOM", "/tmp/wsd-chat.log")


def name():
    q = urllib.parse.parse_qs(os.environ.get("QUERY_STRING", ""))
    n = q.get("name", [""])[0].strip()[:32]
    return n or os.environ.get("REMOTE_ADDR", "someone")


def say(room, text):
    """Appends one line to the room, whole, under a lock."""
    fcntl.flock(room, fcntl.LOCK_EX)
    try:
        os.write(room, (text + "\n").encode("utf-8", "replace"))
    finally:
        fcntl.flock(room, fcntl.LOCK_UN)


def main():
    me = name()
    room = os.open(ROOM, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    follow = open(ROOM, "rb")
    follow.seek(0, os.SEEK_END)
    say(room, "* %s joined" % me)
    pending = heard = b""
    stdin_open = True
    while stdin_open:
        ready, _, _ = select.select([0], [], [], 0.1)
        if ready:
            data = os.read(0, 65536)
            if not data:
                stdin_open = False
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                say(room, "%s: %s" % (me, line.decode("utf-8", "replace")))
        heard += follow.read()
        *lines, heard = heard.split(b"\n")
        for line in lines:
            print(line.decode("utf-8", "replace"), flush=True)
    say(room, "* %s left" % me)


if __name__ == "__main__":
    main()
