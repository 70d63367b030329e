/*
 * fuzz_channel.c -- libFuzzer target for the pure parts of channels: the
 * input is a channel name, an id, a Content-Type and a published body.
 * A valid name is safe in a path and JSON; an id parses back to what it
 * was formatted from; the envelope is JSON that gives back the channel,
 * the id and the data; the SSE form of a text is data lines that join
 * back to the text (line breaks normalised), with nothing that could end
 * the event early; history rings keep order and resume points.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"
#include "fuzz.h"
#include "utf8.h"

/* The data lines of an SSE event, joined with LF; NULL if malformed. */
static char *
fuzz_sse_data(const char *ev, size_t len, size_t *outlen)
{
	const char	*p = ev, *end = ev + len, *eol;
	char		*out;
	size_t		 n = 0;
	int		 first = 1;

	FUZZ_CHECK(len >= 2 && ev[len - 1] == '\n' && ev[len - 2] == '\n');
	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	while (p < end - 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		FUZZ_CHECK(eol != NULL);
		/* No line inside the event is empty: it would end it. */
		FUZZ_CHECK(eol > p);
		FUZZ_CHECK(memchr(p, '\r', (size_t)(eol - p)) == NULL);
		if ((size_t)(eol - p) >= 6 && memcmp(p, "data: ", 6) == 0) {
			if (!first)
				out[n++] = '\n';
			first = 0;
			memcpy(out + n, p + 6, (size_t)(eol - p) - 6);
			n += (size_t)(eol - p) - 6;
		}
		p = eol + 1;
	}
	*outlen = n;
	return out;
}

/* The text with CR LF and CR made LF, as an SSE client reads it. */
static size_t
fuzz_normalise(const uint8_t *s, size_t len, char *out)
{
	size_t	i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\r') {
			out[n++] = '\n';
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		} else
			out[n++] = (char)s[i];
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input	 in = { data, size };
	struct channel_ring	 ring;
	struct channel_msg	*m;
	json_t			*v;
	json_error_t		 err;
	char			 name[CHANNEL_NAME_MAX + 2], id[CHANNEL_ID_MAX];
	char			 idbuf[CHANNEL_ID_MAX];
	int			 ok;
	char			*s, *joined, *norm;
	uint64_t		 epoch, seq, e2, s2, last;
	size_t			 nlen, len, jlen, i, first;
	enum channel_kind	 kind;

	/* A name: valid ones are made of the safe set only. */
	nlen = (size_t)fuzz_take(&in, 1) % (CHANNEL_NAME_MAX + 2);
	if (nlen > in.len)
		nlen = in.len;
	memcpy(name, in.data, nlen);
	name[nlen] = '\0';
	in.data += nlen;
	in.len -= nlen;
	if (channel_name_valid(name, nlen)) {
		FUZZ_CHECK(nlen >= 1 && nlen <= CHANNEL_NAME_MAX);
		FUZZ_CHECK(strcspn(name, "/\"\\%?# \r\n") == nlen);
	} else
		name[0] = 'n', name[1] = '\0';

	/* Ids format and parse back. */
	epoch = fuzz_take(&in, 8);
	seq = fuzz_take(&in, 8);
	len = channel_id_format(id, epoch, seq);
	FUZZ_CHECK(len == strlen(id) && len < CHANNEL_ID_MAX);
	FUZZ_CHECK(channel_id_parse(id, len, &e2, &s2) == 0);
	FUZZ_CHECK(e2 == epoch && s2 == seq);
	/* Whatever parses formats back no longer (leading zeros go). */
	len = in.len < 48 ? in.len : 48;
	if (channel_id_parse((const char *)in.data, len, &e2, &s2) == 0)
		FUZZ_CHECK(channel_id_format(idbuf, e2, s2) <= len);

	kind = (enum channel_kind)(fuzz_take(&in, 1) % 3);
	if (fuzz_take(&in, 1) & 1)
		kind = channel_kind_of((const char *)in.data,
		    in.len < 40 ? in.len : 40);

	/* The envelope is JSON that gives everything back. */
	if ((s = channel_envelope(name, id, kind, in.data, in.len,
	    &len)) != NULL) {
		FUZZ_CHECK(strlen(s) == len);
		v = json_loadb(s, len, JSON_ALLOW_NUL, &err);
		FUZZ_CHECK(v != NULL);
		FUZZ_CHECK(strcmp(json_string_value(json_object_get(v,
		    "channel")), name) == 0);
		FUZZ_CHECK(strcmp(json_string_value(json_object_get(v, "id")),
		    id) == 0);
		FUZZ_CHECK(json_object_get(v, "data") != NULL);
		if (kind == CHANNEL_TEXT) {
			FUZZ_CHECK(json_string_length(json_object_get(v,
			    "data")) == in.len);
			FUZZ_CHECK(memcmp(json_string_value(json_object_get(v,
			    "data")), in.data, in.len) == 0);
		}
		json_decref(v);
		free(s);
		ok = 1;
	} else
		ok = 0;
	/* It fails only on what the publish path refuses first. */
	if (kind == CHANNEL_JSON)
		FUZZ_CHECK(ok == channel_json_valid(in.data, in.len));
	else if (kind == CHANNEL_TEXT)
		FUZZ_CHECK(ok == utf8_valid(in.data, in.len));
	else
		FUZZ_CHECK(ok);

	/* The SSE form: data lines that give the text back. */
	s = channel_sse_event(id, NULL, kind == CHANNEL_BINARY, in.data,
	    in.len, &len);
	FUZZ_CHECK(s != NULL);
	joined = fuzz_sse_data(s, len, &jlen);
	if (joined != NULL && kind != CHANNEL_BINARY &&
	    (norm = malloc(in.len + 1)) != NULL) {
		i = fuzz_normalise(in.data, in.len, norm);
		FUZZ_CHECK(i == jlen && memcmp(norm, joined, jlen) == 0);
		free(norm);
	}
	free(joined);
	free(s);

	/* A ring from the input's bytes as increasing gaps. */
	channel_ring_init(&ring, 5);
	last = 5;
	for (i = 0; i < in.len && i < 300; i++) {
		last += 1 + in.data[i] % 4;
		if ((m = channel_msg_new(last, 0, 0, NULL, 0)) == NULL)
			break;
		if (channel_ring_push(&ring, m) == -1) {
			free(m);
			break;
		}
		if (in.data[i] & 0x80)
			free(channel_ring_pop(&ring));
	}
	for (seq = 0; seq <= last + 1; seq++) {
		i = (size_t)channel_ring_since(&ring, seq, last, &first);
		FUZZ_CHECK(i == (seq < ring.floor || seq > last));
		FUZZ_CHECK(first <= ring.n);
		if (first < ring.n)
			FUZZ_CHECK(channel_ring_at(&ring, first)->seq > seq);
		if (first > 0)
			FUZZ_CHECK(channel_ring_at(&ring, first - 1)->seq <=
			    seq);
	}
	while ((m = channel_ring_pop(&ring)) != NULL)
		free(m);
	channel_ring_free(&ring);
	return 0;
}
