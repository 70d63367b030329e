/* counter.h -- the counter app's pure pieces, shared with the tests. */
#ifndef WSD_APPS_COUNTER_H
#define WSD_APPS_COUNTER_H

#include <stddef.h>
#include <stdint.h>

/* Room for the longest event: {"type":"value","value":-9223372036854775808} */
#define COUNTER_JSON_MAX	64

/*
 * Maps a client message to an action: a JSON object whose string "action"
 * is "plus" gives 1, "minus" gives -1; anything else (bad JSON, not an
 * object, no or another action) gives 0.
 */
int	counter_parse_action(const uint8_t *data, size_t len);

/*
 * Applies delta (1 or -1) to *value. Returns 0, or -1 leaving *value as it
 * was when the result would overflow.
 */
int	counter_apply(long long *value, int delta);

/*
 * Writes {"type":"users","count":N} or {"type":"value","value":V} (compact,
 * keys in that order, no NUL) into out. Returns the length, 0 on failure.
 */
size_t	counter_users_json(char out[COUNTER_JSON_MAX], unsigned count);
size_t	counter_value_json(char out[COUNTER_JSON_MAX], long long value);

#endif
