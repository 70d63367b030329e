"""test_timers.py -- app timers keep a fixed rate: the broadcast route's
next tick is due one period after the previous deadline, not after
publishing ended; deadlines a slow publish ran past are skipped and
counted (wsd_timer_ticks_skipped_total), never sent late in a burst.

These check the schedule, with generous margins; speed is measured by
wsd-bench, not here."""

import datetime
import os
import re
import selectors
import time

import helpers
from test_metrics import scrape, val

TS_RX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# Under ASan a delivery costs about three times as much: a third of the
# members keeps a publish the same share of the period.
SANITIZED = os.environ.get("WSD_SANITIZED") == "1"


def ts_seconds(payload):
    s = payload.decode()
    assert TS_RX.match(s), "bad timestamp %r" % s
    t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    return t.timestamp()


def conf(period, extra=None):
    routes = [("/broadcast", {"app": "broadcast", "interval_min": period,
                              "interval_max": period}),
              ("/metrics", {"app": "metrics"})]
    return helpers.make_config(routes=routes, server=extra)


def subscribe(port, n):
    """n members nobody reads (their ticks wait in socket buffers: the
    publish still writes to each), then the one this test watches."""
    helpers.raise_nofile(n + 200)
    idle = helpers.ws_connect_many(port, "/broadcast", n, timeout=30)
    watched = helpers.ws_connect_many(port, "/broadcast", 1)[0]
    return idle, watched


def collect(w, seconds):
    """The tick timestamps w gets in the next seconds, in order."""
    sel = selectors.DefaultSelector()
    sel.register(w, selectors.EVENT_READ)
    got = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            sel.select(0.1)
            for op, payload in w.pump():
                assert op == helpers.OP_TEXT, (op, payload)
                got.append(ts_seconds(payload))
            assert not w.eof and w.close_frame is None, w.close_frame
    finally:
        sel.close()
    return got


def test_broadcast_keeps_rate_under_load(wsd):
    """20ms with 300 members: a publish takes a good part of the period,
    which the old re-arm-after-publish schedule added to every period
    (it delivered 68-79 % of the ticks here; this code 98-100 %; 100
    members under ASan). The count is taken
    between the first and the last timestamp received, so start-up and
    the client's own delays do not enter."""
    period = 0.02
    d = wsd(conf("20ms"))
    idle, w = subscribe(d.port, 100 if SANITIZED else 300)
    try:
        collect(w, 0.3)                 # settle: every member has joined
        got = collect(w, 2.0)
    finally:
        w.close()
        for s in idle:
            s.close()
    assert got == sorted(got) and len(set(got)) == len(got), got
    assert len(got) >= 2, got
    implied = (got[-1] - got[0]) / period + 1
    assert len(got) >= 0.9 * implied, (
        "%d ticks of %.0f implied over %.3fs" % (
            len(got), implied, got[-1] - got[0]))
    # Not more than the clock implies either: skipped ticks stay skipped.
    assert len(got) <= implied + 1, (len(got), implied)


def test_broadcast_skips_ticks_it_cannot_make(wsd):
    """1ms with 300 members: publishing takes longer than the period, so
    deadlines pass while it runs. They are skipped and counted, and the
    ticks that do go out are not late copies sent back to back."""
    period = 0.001
    # One loop that both ticks and writes to every member: with more
    # workers the ticking one only queues, and is seldom late at all.
    d = wsd(conf("1ms", {"log_level": "debug", "access_log": "off",
                         "workers": "1"}))
    idle, w = subscribe(d.port, 300)
    try:
        got = collect(w, 1.0)
        s = scrape(d.port)
    finally:
        w.close()
        for x in idle:
            x.close()
    skipped = val(s, "wsd_timer_ticks_skipped_total", route="/broadcast")
    assert skipped > 0, skipped
    d.wait_log(r"debug: /broadcast: timer ran late: \d+ ticks skipped")
    assert len(got) >= 10, got
    gaps = [b - a for a, b in zip(got, got[1:])]
    assert min(gaps) > 0, "timestamps not increasing: %r" % got
    # A burst would send the missed ticks at once, microseconds apart.
    assert min(gaps) >= period * 0.5, sorted(gaps)[:10]
    # Sent and skipped ticks together account for the time, no more.
    assert len(got) <= (got[-1] - got[0]) / period + 1, len(got)
