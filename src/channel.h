/*
 * channel.h -- the pure parts of channels: names, message ids, the
 * history of a channel with its since-lookup, the JSON envelope and the
 * Server-Sent Events form of a message. No I/O, no libevent.
 */
#ifndef WSD_CHANNEL_H
#define WSD_CHANNEL_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

/* A channel name is 1 to this many characters of A-Z a-z 0-9 . _ : - */
#define CHANNEL_NAME_MAX	128
/* "EPOCH-SEQ" with two 64-bit numbers, and the NUL. */
#define CHANNEL_ID_MAX		42

/* 1 if s is a valid channel name, else 0. */
int	channel_name_valid(const char *s, size_t len);

/* Formats an id "EPOCH-SEQ" into out (CHANNEL_ID_MAX); its length. */
size_t	channel_id_format(char out[CHANNEL_ID_MAX], uint64_t epoch,
	    uint64_t seq);
/* Parses "EPOCH-SEQ" (decimal, no sign, no leading junk); 0 or -1. */
int	channel_id_parse(const char *s, size_t len, uint64_t *epoch,
	    uint64_t *seq);

/*
 * One retained message, as subscribers receive it (the envelope already
 * applied). It sits in its channel's ring and in its route's list of all
 * retained messages in publish order, the one history_max_bytes and
 * history_ttl evict from.
 */
struct channel_msg {
	TAILQ_ENTRY(channel_msg) entry;		/* the route's list */
	void		*owner;			/* the channel */
	uint64_t	 seq;
	double		 t;			/* when published, monotonic */
	/* The id another node of a cluster gave it; "": ours (EPOCH-seq). */
	char		 origin[CHANNEL_ID_MAX];
	int		 binary;		/* else text */
	size_t		 len;
	uint8_t		 data[];
};

TAILQ_HEAD(channel_msgs, channel_msg);

/* A new message holding a copy of data; NULL when out of memory. */
struct channel_msg *channel_msg_new(uint64_t seq, double t, int binary,
	    const void *data, size_t len);

/*
 * The retained messages of one channel, oldest first, in a ring that
 * grows as needed. floor is the sequence number below which the channel
 * may have had messages that are not retained: a subscriber resuming
 * from an id older than floor gets a reset notice.
 */
struct channel_ring {
	struct channel_msg **v;
	size_t		 cap;
	size_t		 head;			/* index of the oldest */
	size_t		 n;
	size_t		 bytes;			/* payload bytes held */
	uint64_t	 floor;
};

/* An empty ring whose messages all come after seq floor. */
void	channel_ring_init(struct channel_ring *r, uint64_t floor);
/* Frees the ring's array (not the messages). */
void	channel_ring_free(struct channel_ring *r);
/* Appends m (its seq above every other); -1 when out of memory. */
int	channel_ring_push(struct channel_ring *r, struct channel_msg *m);
/* Takes the oldest message out (raising floor to it); NULL if empty. */
struct channel_msg *channel_ring_pop(struct channel_ring *r);
/* The i-th oldest message, i < n. */
struct channel_msg *channel_ring_at(const struct channel_ring *r, size_t i);
/* The newest message, NULL if empty. */
struct channel_msg *channel_ring_last(const struct channel_ring *r);
/*
 * Where a subscriber that saw seq resumes: *first is the index of the
 * first retained message after seq. Returns 0 when nothing after seq
 * was lost, 1 when some may have been (seq below floor, or above last,
 * the newest seq of the whole route: not an id this run gave out).
 */
int	channel_ring_since(const struct channel_ring *r, uint64_t seq,
	    uint64_t last, size_t *first);

/*
 * The id of one message as the node that published it gave it, in the
 * ring r; the index of that message in *at: 0, or -1 when not there.
 */
int	channel_ring_find(const struct channel_ring *r, const char *id,
	    size_t *at);

/* What a published body is, for the envelope and SSE. */
enum channel_kind {
	CHANNEL_TEXT = 0,	/* UTF-8 text */
	CHANNEL_JSON,		/* a JSON text (application/json) */
	CHANNEL_BINARY,		/* anything else */
};

/*
 * What a Content-Type value says a body is: text types and forms (what
 * curl -d sends) are text, application/json JSON, the rest binary.
 */
enum channel_kind channel_kind_of(const char *ctype, size_t len);

/*
 * The JSON envelope {"channel":..,"id":..,"data":..}: data is the JSON
 * value of a CHANNEL_JSON body, a string for text, and for binary the
 * base64 string with "binary":true. Returns a malloc'd string (its
 * length in *len), NULL when a JSON body does not parse or memory runs
 * out.
 */
char	*channel_envelope(const char *channel, const char *id,
	    enum channel_kind kind, const void *data, size_t len,
	    size_t *outlen);
/* {"type":"reset","channel":..}, malloc'd; NULL when out of memory. */
char	*channel_envelope_reset(const char *channel, size_t *outlen);

/*
 * A Server-Sent Events event (HTML "server-sent events"): "id: ID" when
 * id is not NULL, "event: EVENT" when event is not NULL, the data as
 * one "data:" line per line of it (CR, LF and CRLF all end a line), or
 * for binary "event: binary" and the base64 data on one line; then the
 * empty line. Returns a malloc'd buffer, NULL when out of memory.
 */
/*
 * The id of an event channel_sse_event() made (its last field) into out:
 * 0, or -1 when it has none or not a valid one.
 */
int	channel_sse_id(const char *ev, size_t len, char out[CHANNEL_ID_MAX]);
char	*channel_sse_event(const char *id, const char *event, int binary,
	    const void *data, size_t len, size_t *outlen);

/* 1 if data is one complete JSON value (jansson), else 0. */
int	channel_json_valid(const void *data, size_t len);

#endif
