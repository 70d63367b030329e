/* hub.c -- broadcast groups: one encoded frame shared by every member. */
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"
#include "pmd.h"
#include "ws.h"

/* Compressed variants of a message: by server_max_window_bits 8..15. */
#define HUB_ZVARIANTS	8

/*
 * One encoded server frame (header + payload). Server frames are unmasked,
 * so the bytes are the same for every member: each member's output holds a
 * reference, and the last one to write it frees it.
 *
 * permessage-deflate (RFC 7692): the plain frame is the message. Members
 * without context takeover on our side (every member of a route with
 * compression = shared) get a compressed variant made once per window
 * size and shared like the plain one (same parameters from a reset
 * stream: the same bytes); it hangs off the plain frame. Members with
 * context takeover get their own compressed copy, made when the frame is
 * actually delivered, so that a dropped or conflated message never enters
 * their compression context.
 */
struct hub_frame {
	unsigned	 refs;
	uint64_t	 seq;		/* publish order, for backlogs */
	size_t		 off;		/* where the frame starts in data */
	size_t		 len;		/* header + payload */
	size_t		 hlen;		/* header */
	size_t		 payload_len;	/* of the message, uncompressed */
	struct hub_frame *z[HUB_ZVARIANTS]; /* shared compressed variants */
	struct hub_frame *sse;		/* the Server-Sent Events form */
	uint8_t		 data[];
};

TAILQ_HEAD(hub_members, hub_member);

struct hub {
	struct hub_members	 members;
	unsigned		 n;
	size_t			 limit;
	enum hub_policy		 policy;
	uint64_t		 seq;
	struct hub_stats	 stats;
	/* No-context compressors: pooled, so no zlib memory of their own. */
	struct pmd		*zs[HUB_ZVARIANTS];
	char			*name;
};

static const char *const hub_policy_names[] = { "close", "drop", "conflate" };

/* The members' connections, as the core reaches them. */
static const struct hub_io *hub_io;
/* The other nodes; NULL: this node runs alone. */
static const struct hub_bridge *hub_bridge;

/* Sets the member interface. */
void
hub_set_io(const struct hub_io *io)
{
	hub_io = io;
}

/* Sets the bridge to other nodes. */
void
hub_set_bridge(const struct hub_bridge *b)
{
	hub_bridge = b;
}

/* Parses a slow_client value. */
int
hub_policy_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof(hub_policy_names) / sizeof(hub_policy_names[0]);
	    i++)
		if (strcmp(s, hub_policy_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Creates an empty hub. */
struct hub *
hub_new(const char *name, size_t limit, enum hub_policy policy)
{
	struct hub	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->name = strdup(name)) == NULL) {
		free(h);
		return NULL;
	}
	TAILQ_INIT(&h->members);
	h->limit = limit;
	h->policy = policy;
	if (hub_bridge != NULL)
		hub_bridge->attach(h, h->name);
	return h;
}

/* A reload changed the route's limit or policy: members keep their place. */
void
hub_set_limit(struct hub *h, size_t limit, enum hub_policy policy)
{
	h->limit = limit;
	h->policy = policy;
}

/* Frees a hub whose members have all left. */
void
hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	size_t	i;

	if (h->n != 0)
		log_warnx("hub %s: freed with %u members", h->name, h->n);
	if (hub_bridge != NULL)
		hub_bridge->detach(h, h->name);
	for (i = 0; i < HUB_ZVARIANTS; i++)
		pmd_free(h->zs[i]);
	free(h->name);
	free(h);
}

/* Drops one reference to a frame. */
static void
hub_frame_unref(struct hub_frame *f)
{
	size_t	i;

	if (--f->refs != 0)
		return;
	for (i = 0; i < HUB_ZVARIANTS; i++)
		if (f->z[i] != NULL)
			hub_frame_unref(f->z[i]);
	if (f->sse != NULL)
		hub_frame_unref(f->sse);
	free(f);
}

/* evbuffer cleanup: a member's output is done with the frame. */
static void
hub_frame_cleanup_cb(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	hub_frame_unref(arg);
}

/* Adds a member. */
void
hub_join(struct hub *h, struct hub_member *m, struct conn *c)
{
	if (m->hub != NULL)
		return;
	m->pending = NULL;
	m->hub = h;
	m->conn = c;
	TAILQ_INSERT_TAIL(&h->members, m, entry);
	h->n++;
}

/* Releases a member's backlog. */
static void
hub_backlog_free(struct hub_member *m)
{
	size_t	i;

	if (m->pending == NULL)
		return;
	for (i = 0; i < HUB_KEYS; i++)
		if (m->pending[i] != NULL)
			hub_frame_unref(m->pending[i]);
	free(m->pending);
	m->pending = NULL;
}

/* Removes a member and releases its backlog. */
void
hub_leave(struct hub_member *m)
{
	struct hub	*h = m->hub;

	if (h == NULL)
		return;
	hub_backlog_free(m);
	TAILQ_REMOVE(&h->members, m, entry);
	h->n--;
	m->hub = NULL;
}

/*
 * A new frame of room payload bytes, with refs 1; the header is written
 * once the payload is in (hub_frame_finish).
 */
static struct hub_frame *
hub_frame_new(size_t room)
{
	struct hub_frame	*f;

	if ((f = malloc(sizeof(*f) + 10 + room)) == NULL)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->refs = 1;
	return f;
}

/* Writes the header right in front of the len payload bytes at data+10. */
static void
hub_frame_finish(struct hub_frame *f, int opcode, int rsv1, size_t len)
{
	uint8_t	hdr[10];

	f->hlen = ws_frame_header_encode(hdr, 1, opcode, len);
	if (rsv1)
		hdr[0] |= 0x40;
	f->off = sizeof(hdr) - f->hlen;
	memcpy(f->data + f->off, hdr, f->hlen);
	f->len = f->hlen + len;
}

/* Compresses the message of plain frame f with z: a new frame, refs 1. */
static struct hub_frame *
hub_frame_deflate(struct pmd *z, const struct hub_frame *f)
{
	struct hub_frame	*zf;
	size_t			 plen = f->len - f->hlen, zlen;

	if ((zf = hub_frame_new(pmd_deflate_bound(plen))) == NULL)
		return NULL;
	if (pmd_deflate(z, f->data + f->off + f->hlen, plen, zf->data + 10,
	    pmd_deflate_bound(plen), &zlen) != PMD_OK) {
		free(zf);
		return NULL;
	}
	zf->seq = f->seq;
	zf->payload_len = f->payload_len;
	hub_frame_finish(zf, f->data[f->off] & 0x0f, 1, zlen);
	return zf;
}

/* The shared variant of f compressed from a reset stream with wbits. */
static struct hub_frame *
hub_frame_shared_z(struct hub *h, struct hub_frame *f, int wbits)
{
	struct pmd_params	p;
	size_t			i = (size_t)wbits % HUB_ZVARIANTS;

	if (f->z[i] != NULL)
		return f->z[i];
	if (h->zs[i] == NULL) {
		memset(&p, 0, sizeof(p));
		p.server_no_context_takeover = 1;
		p.server_max_window_bits = wbits;
		p.client_max_window_bits = 15;
		if ((h->zs[i] = pmd_new(&p, 1)) == NULL)
			return NULL;
	}
	f->z[i] = hub_frame_deflate(h->zs[i], f);
	return f->z[i];
}

/* Hands one reference of f to a member's output. */
static void
hub_send(struct hub *h, struct hub_member *m, struct hub_frame *f)
{
	f->refs++;
	if (hub_io->send_shared(m->conn, f->data + f->off, f->len, f->payload_len,
	    hub_frame_cleanup_cb, f) == -1) {
		f->refs--;
		return;
	}
	h->stats.delivered++;
}

/* Delivers message f to a member in the form it negotiated. */
static void
hub_deliver(struct hub *h, struct hub_member *m, struct hub_frame *f)
{
	struct pmd		*z = hub_io->pmd(m->conn);
	const struct pmd_params	*p;
	struct hub_frame	*zf;

	/* An SSE stream gets the event form, when the message has one. */
	if (hub_io->sse(m->conn)) {
		if (f->sse != NULL)
			hub_send(h, m, f->sse);
		return;
	}
	if (z == NULL) {
		hub_send(h, m, f);
		return;
	}
	p = pmd_params(z);
	if (p->server_no_context_takeover) {
		/* Compressed once for every member with this window. */
		if ((zf = hub_frame_shared_z(h, f,
		    p->server_max_window_bits)) != NULL)
			hub_send(h, m, zf);
		else
			hub_io->fail(m->conn, WS_CLOSE_INTERNAL,
			    "compression failed");
		return;
	}
	/* Context takeover: compressed with this member's own stream,
	 * straight into its output. */
	if (hub_io->queue(m->conn, f->data[f->off] & 0x0f,
	    f->data + f->off + f->hlen, f->len - f->hlen) == 0)
		h->stats.delivered++;
}

/* Whether a member has a conflated backlog. */
static int
hub_member_backlog(const struct hub_member *m)
{
	size_t	i;

	if (m->pending == NULL)
		return 0;
	for (i = 0; i < HUB_KEYS; i++)
		if (m->pending[i] != NULL)
			return 1;
	return 0;
}

/*
 * Keeps f as the member's newest unsent message for key; without memory
 * for the backlog, f is dropped like under the drop policy.
 */
static void
hub_conflate(struct hub *h, struct hub_member *m, struct hub_frame *f,
    unsigned key)
{
	if (m->pending == NULL && (m->pending = calloc(HUB_KEYS,
	    sizeof(*m->pending))) == NULL) {
		h->stats.dropped++;
		return;
	}
	if (m->pending[key] != NULL) {
		hub_frame_unref(m->pending[key]);
		h->stats.conflated++;
	}
	f->refs++;
	m->pending[key] = f;
	hub_io->watch_drain(m->conn, h->limit / 2);
}

/* Applies the slow-client policy to a member over the limit. */
static void
hub_slow(struct hub *h, struct hub_member *m, struct hub_frame *f,
    unsigned key)
{
	switch (h->policy) {
	case HUB_SLOW_CLOSE:
		h->stats.slow_closed++;
		log_info("%s: hub %s: slow client, %zu bytes pending: closing",
		    hub_io->peer(m->conn), h->name,
		    hub_io->pending(m->conn));
		hub_io->fail(m->conn, WS_CLOSE_POLICY, "slow client");
		break;
	case HUB_SLOW_DROP:
		h->stats.dropped++;
		break;
	case HUB_SLOW_CONFLATE:
		hub_conflate(h, m, f, key);
		break;
	}
}

/* Encodes once, then shares the frame with every open member. */
void
hub_publish(struct hub *h, int opcode, const void *data, size_t len,
    unsigned key, struct conn *except)
{
	hub_publish_sse(h, opcode, data, len, NULL, 0, key, except);
}

/* The SSE form of a message: the bytes as they are, shared like a frame. */
static struct hub_frame *
hub_frame_sse(const void *sse, size_t len)
{
	struct hub_frame	*f;

	if ((f = hub_frame_new(len)) == NULL)
		return NULL;
	f->off = 10;
	f->len = f->payload_len = len;
	memcpy(f->data + 10, sse, len);
	return f;
}

/* Delivers one message to this node's members but except. */
static void
hub_deliver_all(struct hub *h, int opcode, const void *data, size_t len,
    const void *sse, size_t sse_len, unsigned key, struct conn *except)
{
	struct hub_member	*m;
	struct hub_frame	*f;

	if (h->n == 0)
		return;
	/* refs 1: ours, until the loop is done */
	if ((f = hub_frame_new(len)) == NULL) {
		log_warn("hub %s: publish", h->name);
		return;
	}
	f->seq = ++h->seq;
	f->payload_len = len;
	if (len > 0)
		memcpy(f->data + 10, data, len);
	hub_frame_finish(f, opcode, 0, len);
	if (sse != NULL && (f->sse = hub_frame_sse(sse, sse_len)) == NULL) {
		log_warn("hub %s: publish", h->name);
		hub_frame_unref(f);
		return;
	}

	TAILQ_FOREACH(m, &h->members, entry) {
		if (m->conn == except || !hub_io->open(m->conn))
			continue;
		/* Behind a backlog, new messages queue too: order holds. */
		if (hub_member_backlog(m))
			hub_conflate(h, m, f, key);
		else if (hub_io->pending(m->conn) > h->limit)
			hub_slow(h, m, f, key);
		else
			hub_deliver(h, m, f);
	}
	hub_frame_unref(f);
}

/*
 * hub_publish() with the message's Server-Sent Events form too: here at
 * once, and to the other nodes through the bridge.
 */
void
hub_publish_sse(struct hub *h, int opcode, const void *data, size_t len,
    const void *sse, size_t sse_len, unsigned key, struct conn *except)
{
	if (key >= HUB_KEYS)
		key = HUB_KEYS - 1;
	h->stats.published++;
	hub_deliver_all(h, opcode, data, len, sse, sse_len, key, except);
	if (hub_bridge != NULL)
		hub_bridge->publish(h->name, opcode, data, len, sse, sse_len,
		    key);
}

/* A message for this node's members only. */
void
hub_inject(struct hub *h, int opcode, const void *data, size_t len,
    const void *sse, size_t sse_len, unsigned key)
{
	if (key >= HUB_KEYS)
		key = HUB_KEYS - 1;
	hub_deliver_all(h, opcode, data, len, sse, sse_len, key, NULL);
}

/* A message for the other nodes only. */
void
hub_publish_remote(const char *name, int opcode, const void *data,
    size_t len, const void *sse, size_t sse_len, unsigned key)
{
	if (hub_bridge != NULL)
		hub_bridge->publish(name, opcode, data, len, sse, sse_len,
		    key >= HUB_KEYS ? HUB_KEYS - 1 : key);
}

/* Whether messages go to other nodes too. */
int
hub_bridged(void)
{
	return hub_bridge != NULL;
}

/* The hub's name. */
const char *
hub_name(const struct hub *h)
{
	return h->name;
}

/* The member drained: send its backlog, oldest first. */
void
hub_member_drained(struct hub_member *m)
{
	struct hub		*h = m->hub;
	struct hub_frame	*f;
	size_t			 i, oldest;

	if (h == NULL)
		return;
	while (hub_member_backlog(m)) {
		if (!hub_io->open(m->conn))
			return;
		if (hub_io->pending(m->conn) > h->limit) {
			hub_io->watch_drain(m->conn, h->limit / 2);
			return;
		}
		oldest = HUB_KEYS;
		for (i = 0; i < HUB_KEYS; i++)
			if (m->pending[i] != NULL && (oldest == HUB_KEYS ||
			    m->pending[i]->seq < m->pending[oldest]->seq))
				oldest = i;
		f = m->pending[oldest];
		m->pending[oldest] = NULL;
		hub_deliver(h, m, f);
		hub_frame_unref(f);
	}
	/* An idle member holds no backlog array. */
	hub_backlog_free(m);
}

/* Members now. */
unsigned
hub_size(const struct hub *h)
{
	return h->n;
}

/* Visits every member. */
void
hub_each(struct hub *h, void (*fn)(struct conn *, void *), void *arg)
{
	struct hub_member	*m, *next;

	for (m = TAILQ_FIRST(&h->members); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		fn(m->conn, arg);
	}
}

/* What the hub did so far. */
const struct hub_stats *
hub_stats(const struct hub *h)
{
	return &h->stats;
}
